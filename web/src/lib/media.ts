// Opening the camera and microphone, and saying in words what went wrong.

import { t } from '../i18n';
import { CAMERA_SIZE } from './simulcast';

export interface MediaProblem {
  /** Short words for the status line, after "Error: ". */
  summary: string;
  /** What happened and what the person can do about it. */
  help: string;
  /** Whether trying again (after fixing the cause) may work. */
  retry: boolean;
  /** Another application holds the device. */
  inUse?: boolean;
}

export interface OpenedMedia {
  stream: MediaStream;
  /** Set when we fell back to less than camera + microphone. */
  notice: string | null;
}

export interface DeviceChoice {
  videoDeviceId?: string;
  audioDeviceId?: string;
}

/** A problem opening media; carries the words to show. */
export class MediaError extends Error {
  constructor(readonly problem: MediaProblem) {
    super(problem.summary);
    this.name = 'MediaError';
  }
}

function constraint(deviceId: string | undefined): MediaTrackConstraints | boolean {
  return deviceId ? { deviceId: { exact: deviceId } } : true;
}

/** A camera of 1280×720 where it can, so its simulcast layers (simulcast.ts) make sense. */
function cameraConstraint(deviceId: string | undefined): MediaTrackConstraints {
  return { ...CAMERA_SIZE, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) };
}

function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && 'name' in err ? String(err.name) : '';
}

/** Turns a getUserMedia failure into words. */
export function describeMediaError(err: unknown): MediaProblem {
  switch (errorName(err)) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return {
        summary: t('media.denied'),
        help: t('media.deniedHelp'),
        retry: true,
      };
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return {
        summary: t('media.notFound'),
        help: t('media.notFoundHelp'),
        retry: true,
      };
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return {
        summary: t('media.inUse'),
        help: t('media.inUseHelp'),
        inUse: true,
        retry: true,
      };
    default: {
      const why = err instanceof Error && err.message ? err.message : String(err);
      return {
        summary: t('media.failed'),
        help: t('media.failedHelp', { why }),
        retry: true,
      };
    }
  }
}

/** The problem when the browser offers no getUserMedia here, or null if it does. */
export function mediaUnavailable(): MediaProblem | null {
  // On insecure origins browsers leave navigator.mediaDevices undefined, whatever the types say.
  const md = typeof navigator !== 'undefined' ? (navigator.mediaDevices as MediaDevices | undefined) : undefined;
  if (typeof md?.getUserMedia === 'function') return null;
  if (typeof window !== 'undefined' && !window.isSecureContext) {
    return {
      summary: t('media.insecure'),
      help: t('media.insecureHelp', { origin: window.location.origin }),
      retry: false,
    };
  }
  return {
    summary: t('media.unsupported'),
    help: t('media.unsupportedHelp'),
    retry: false,
  };
}

/**
 * Opens camera and microphone. If there is no camera it falls back to audio
 * only, and if there is no microphone to video only. Throws MediaError.
 */
export async function openMedia(choice: DeviceChoice = {}): Promise<OpenedMedia> {
  const unavailable = mediaUnavailable();
  if (unavailable) throw new MediaError(unavailable);
  const md = navigator.mediaDevices;
  const video = cameraConstraint(choice.videoDeviceId);
  const audio = constraint(choice.audioDeviceId);
  try {
    return { stream: await md.getUserMedia({ video, audio }), notice: null };
  } catch (err) {
    const name = errorName(err);
    if (name !== 'NotFoundError' && name !== 'OverconstrainedError' && name !== 'DevicesNotFoundError') {
      throw new MediaError(describeMediaError(err));
    }
  }
  // Something is missing; find out what, with the default devices.
  try {
    const stream = await md.getUserMedia({ audio: true });
    return { stream, notice: t('media.audioOnly') };
  } catch {
    // no microphone either, or not usable
  }
  try {
    const stream = await md.getUserMedia({ video: CAMERA_SIZE });
    return { stream, notice: t('media.videoOnly') };
  } catch (err) {
    throw new MediaError(describeMediaError(err));
  }
}

/** Opens one track of the given kind from a specific device. Throws MediaError. */
export async function openTrack(kind: 'audio' | 'video', deviceId: string): Promise<MediaStreamTrack> {
  const unavailable = mediaUnavailable();
  if (unavailable) throw new MediaError(unavailable);
  try {
    const c = kind === 'video' ? cameraConstraint(deviceId) : constraint(deviceId);
    const stream = await navigator.mediaDevices.getUserMedia({ [kind]: c });
    const track = stream.getTracks().find((t) => t.kind === kind);
    if (!track) throw new Error(`no ${kind} track`);
    return track;
  } catch (err) {
    throw new MediaError(describeMediaError(err));
  }
}

export interface DeviceList {
  cameras: MediaDeviceInfo[];
  microphones: MediaDeviceInfo[];
}

/** Lists cameras and microphones (labels appear only after permission is granted). */
export async function listDevices(): Promise<DeviceList> {
  if (!navigator.mediaDevices?.enumerateDevices) return { cameras: [], microphones: [] };
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId !== ''),
    microphones: all.filter((d) => d.kind === 'audioinput' && d.deviceId !== ''),
  };
}
