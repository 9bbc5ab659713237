// React state for one's own camera and microphone: opens them on mount (or
// when asked), lists devices (again after permission and on devicechange),
// and swaps one device for another.

import { useCallback, useEffect, useRef, useState } from 'react';
import {
  MediaError,
  describeMediaError,
  listDevices,
  openMedia,
  openTrack,
  type DeviceList,
  type MediaProblem,
} from '../lib/media';

export type Kind = 'audio' | 'video';

export interface LocalMedia {
  /** The preview and what goes live; null until opened, or when opening failed. */
  stream: MediaStream | null;
  /** Always holds the latest stream, for code outside React's render. */
  streamRef: React.RefObject<MediaStream | null>;
  problem: MediaProblem | null;
  notice: string | null;
  devices: DeviceList;
  opening: boolean;
  /** Opens camera and microphone (again). */
  reopen: () => void;
  /** Opens camera and microphone (again); resolves to the stream, or null when that failed. */
  open: () => Promise<MediaStream | null>;
  /** Stops the camera and microphone. */
  close: () => void;
  /** Swaps the device of one kind; resolves to the new track, or null if that failed. */
  switchDevice: (kind: Kind, deviceId: string) => Promise<MediaStreamTrack | null>;
}

function stopAll(stream: MediaStream | null): void {
  stream?.getTracks().forEach((t) => t.stop());
}

/** autoOpen: open the camera on mount (the default); otherwise wait for open(). */
export function useLocalMedia({ autoOpen = true }: { autoOpen?: boolean } = {}): LocalMedia {
  const [stream, setStream] = useState<MediaStream | null>(null);
  const streamRef = useRef<MediaStream | null>(null);
  const [problem, setProblem] = useState<MediaProblem | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [devices, setDevices] = useState<DeviceList>({ cameras: [], microphones: [] });
  const [opening, setOpening] = useState(autoOpen);
  /** Bumped by every open and on unmount; a slower, older open then gives its result up. */
  const generation = useRef(0);
  const mounted = useRef(false);

  const use = useCallback((next: MediaStream | null) => {
    streamRef.current = next;
    setStream(next);
  }, []);

  const refreshDevices = useCallback(async () => {
    try {
      const list = await listDevices();
      if (mounted.current) setDevices(list);
    } catch {
      // Leave the lists as they are.
    }
  }, []);

  const reopen = useCallback(async (): Promise<MediaStream | null> => {
    const gen = ++generation.current;
    setOpening(true);
    stopAll(streamRef.current);
    use(null);
    let result: MediaStream | null = null;
    try {
      const opened = await openMedia();
      if (gen !== generation.current) {
        stopAll(opened.stream);
        return null;
      }
      use(opened.stream);
      result = opened.stream;
      setProblem(null);
      setNotice(opened.notice);
    } catch (err) {
      if (gen !== generation.current) return null;
      setProblem(err instanceof MediaError ? err.problem : describeMediaError(err));
      setNotice(null);
    }
    setOpening(false);
    // Device names are only shown once permission is granted.
    await refreshDevices();
    return result;
  }, [use, refreshDevices]);

  const close = useCallback(() => {
    generation.current++;
    stopAll(streamRef.current);
    use(null);
    setOpening(false);
  }, [use]);

  const switchDevice = useCallback(
    async (kind: Kind, deviceId: string): Promise<MediaStreamTrack | null> => {
      const current = streamRef.current;
      const old = current?.getTracks().find((t) => t.kind === kind) ?? null;
      if (old && old.getSettings().deviceId === deviceId) return old;
      let track: MediaStreamTrack;
      try {
        track = await openTrack(kind, deviceId);
      } catch (err) {
        // Some systems cannot open two cameras at once: free the old one and try again.
        if (!old || !(err instanceof MediaError) || !err.problem.inUse) {
          setNotice(err instanceof MediaError ? err.problem.summary : String(err));
          return null;
        }
        old.stop();
        try {
          track = await openTrack(kind, deviceId);
        } catch (err2) {
          setNotice(err2 instanceof MediaError ? err2.problem.summary : String(err2));
          return null;
        }
      }
      if (!mounted.current || streamRef.current !== current) {
        track.stop(); // unmounted, or the media was reopened meanwhile
        return null;
      }
      if (old) track.enabled = old.enabled;
      const others = current?.getTracks().filter((t) => t.kind !== kind) ?? [];
      old?.stop();
      use(new MediaStream([...others, track]));
      setProblem(null);
      setNotice(null);
      return track;
    },
    [use],
  );

  useEffect(() => {
    mounted.current = true;
    if (autoOpen) void reopen();
    const md = navigator.mediaDevices;
    const onChange = () => void refreshDevices();
    md?.addEventListener?.('devicechange', onChange);
    return () => {
      mounted.current = false;
      generation.current++;
      md?.removeEventListener?.('devicechange', onChange);
      stopAll(streamRef.current);
      streamRef.current = null;
    };
  }, [reopen, refreshDevices, autoOpen]);

  return {
    stream,
    streamRef,
    problem,
    notice,
    devices,
    opening,
    reopen: () => void reopen(),
    open: reopen,
    close,
    switchDevice,
  };
}

/** The stream's track of one kind, or null. */
export function trackOf(stream: MediaStream | null, kind: Kind): MediaStreamTrack | null {
  return stream?.getTracks().find((t) => t.kind === kind) ?? null;
}

/**
 * Mute and camera-off disable tracks (the connection stays as it is) and tell
 * the room, through a Meeting or a Publisher (null before there is one).
 */
export function useMuting(
  session: { setMedia(audio: boolean, video: boolean): void } | null,
  mic: MediaStreamTrack | null,
  cam: MediaStreamTrack | null,
  micOn: boolean,
  camOn: boolean,
): void {
  useEffect(() => {
    if (mic) mic.enabled = micOn;
    if (cam) cam.enabled = camOn;
    session?.setMedia(micOn && mic !== null, camOn && cam !== null);
  }, [session, mic, cam, micOn, camOn]);
}
