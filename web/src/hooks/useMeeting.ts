// Runs a Meeting session while `active`, and keeps its state in React state.

import { useEffect, useRef, useState } from 'react';
import { Meeting, type MeetingEvent, type MeetingOptions, type MeetingState } from '../lib/meeting';
import { Credentials, tokenFromSearch } from '../lib/auth';
import { loadQuality } from '../lib/prefs';
import { signalingUrl } from '../lib/signaling';

export interface MeetingSetup
  extends Pick<
    MeetingOptions,
    'room' | 'kind' | 'role' | 'name' | 'getStream' | 'autoPublish' | 'media' | 'credentials'
  > {
  /** The session runs while this is true; a change of role or name starts a new one. */
  active: boolean;
  onEvent?: (event: MeetingEvent) => void;
}

export function useMeeting(setup: MeetingSetup): { state: MeetingState | null; meeting: Meeting | null } {
  const [state, setState] = useState<MeetingState | null>(null);
  const [meeting, setMeeting] = useState<Meeting | null>(null);
  // The latest callbacks and media, without restarting the session when they change.
  const latest = useRef(setup);
  latest.current = setup;
  const { active, room, kind, role, name, autoPublish } = setup;

  useEffect(() => {
    if (!active) {
      setState(null);
      setMeeting(null);
      return;
    }
    const m = new Meeting({
      room,
      kind,
      role,
      name,
      autoPublish,
      media: latest.current.media,
      credentials: latest.current.credentials,
      quality: loadQuality(),
      signalingUrl: signalingUrl(location),
      host: location.host,
      getStream: () => latest.current.getStream(),
      onChange: setState,
      onEvent: (e) => latest.current.onEvent?.(e),
    });
    setMeeting(m);
    setState(m.current);
    m.start();
    return () => m.stop();
  }, [active, room, kind, role, name, autoPublish]);

  return { state, meeting };
}

/**
 * The page's way into rooms that need it: the invitation token of its address
 * (?token=...), and later the password typed. In memory only, for the page's life.
 */
export function useCredentials(): Credentials {
  const [credentials] = useState(() => new Credentials(tokenFromSearch(location.search)));
  return credentials;
}

/** Follows a CSS media query. */
export function useMediaQuery(query: string): boolean {
  const [matches, setMatches] = useState(() => typeof matchMedia === 'function' && matchMedia(query).matches);
  useEffect(() => {
    if (typeof matchMedia !== 'function') return;
    const mq = matchMedia(query);
    const on = () => setMatches(mq.matches);
    on();
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, [query]);
  return matches;
}
