// The exact words of the status lines on the two pages.

import type { MeetingState } from './meeting-types';
import type { PublisherState } from './publisher';
import { serverErrorText, t } from '../i18n';
import { unreachableMessage } from './signaling';

/**
 * Where a viewer is:
 * - connecting: opening the socket or joining, the first time
 * - reconnecting: the socket dropped, or the media path did; retrying
 * - waiting: joined, the broadcast has not started
 * - negotiating: the broadcast is live; setting up the media connection
 * - media: the media connection is up
 * - ended: the broadcast was live and has stopped
 * - auth: the broadcast needs a password
 * - error: meetd refused something, or cannot be reached (still retrying then)
 */
export type ViewerPhase =
  | 'connecting'
  | 'reconnecting'
  | 'waiting'
  | 'negotiating'
  | 'media'
  | 'ended'
  | 'auth'
  | 'error';

/** A viewer's phase, and the words for 'error', from its session. host is for "cannot reach". */
export function viewerPhase(s: MeetingState, host: string): { phase: ViewerPhase; error: string | null } {
  if (s.unreachable) return { phase: 'error', error: unreachableMessage(host) };
  if (s.status === 'auth') return { phase: 'auth', error: null };
  if (s.status === 'error') return { phase: 'error', error: s.error ? serverErrorText(s.error.code, s.error.message) : null };
  if (s.status === 'reconnecting') return { phase: 'reconnecting', error: null };
  if (s.status !== 'joined') return { phase: 'connecting', error: null };
  if (s.receiving === 'reconnecting') return { phase: 'reconnecting', error: null };
  if (s.receiving === 'on') return { phase: 'media', error: null };
  if (s.receiving === 'connecting' || s.live) return { phase: 'negotiating', error: null };
  return { phase: s.wasLive ? 'ended' : 'waiting', error: null };
}

/** The status words, in the user's language. */
export const STATUS = {
  get preview(): string {
    return t('status.preview');
  },
  get connecting(): string {
    return t('status.connecting');
  },
  get live(): string {
    return t('status.live');
  },
  get reconnecting(): string {
    return t('status.reconnecting');
  },
  get waiting(): string {
    return t('status.waiting');
  },
  get ended(): string {
    return t('status.ended');
  },
  get password(): string {
    return t('status.password');
  },
};

export function errorStatus(words: string): string {
  return t('status.error', { words });
}

/** The streamer page's status. mediaProblem is the camera's trouble, if any. */
export function streamerStatus(pub: PublisherState, mediaProblem: string | null): string {
  switch (pub.status) {
    case 'connecting':
      return STATUS.connecting;
    case 'live':
      return STATUS.live;
    case 'reconnecting':
      return STATUS.reconnecting;
    case 'auth':
      return STATUS.password;
    case 'error':
      return errorStatus(pub.error ?? t('status.somethingWrong'));
    case 'idle':
      return mediaProblem !== null ? errorStatus(mediaProblem) : STATUS.preview;
  }
}

/** The viewer page's status; playing is whether the video element is playing. */
export function viewerStatus(phase: ViewerPhase, error: string | null, playing: boolean): string {
  switch (phase) {
    case 'connecting':
    case 'negotiating':
      return STATUS.connecting;
    case 'media':
      return playing ? STATUS.live : STATUS.connecting;
    case 'reconnecting':
      return STATUS.reconnecting;
    case 'waiting':
      return STATUS.waiting;
    case 'ended':
      return STATUS.ended;
    case 'auth':
      return STATUS.password;
    case 'error':
      return errorStatus(error ?? t('status.somethingWrong'));
  }
}

/** "0 viewers", "1 viewer", "N viewers". */
export function viewerCountText(n: number): string {
  return t('status.viewers', { count: n });
}
