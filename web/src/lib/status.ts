// The exact words of the status lines on the two pages.

import type { PublisherState } from './publisher';
import type { SubscriberPhase } from './subscriber';

export const STATUS = {
  preview: 'Preview',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  waiting: 'Waiting for the stream to start…',
  ended: 'The stream has ended.',
} as const;

export function errorStatus(words: string): string {
  return `Error: ${words}`;
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
    case 'error':
      return errorStatus(pub.error ?? 'Something went wrong.');
    case 'idle':
      return mediaProblem !== null ? errorStatus(mediaProblem) : STATUS.preview;
  }
}

/** The viewer page's status; playing is whether the video element is playing. */
export function viewerStatus(phase: SubscriberPhase, error: string | null, playing: boolean): string {
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
    case 'error':
      return errorStatus(error ?? 'Something went wrong.');
  }
}

/** "0 viewers", "1 viewer", "N viewers". */
export function viewerCountText(n: number): string {
  return n === 1 ? '1 viewer' : `${n} viewers`;
}
