// What the streamer page sees of a Publisher (publisher.ts): its state, the
// room around it, and the options it is made with.

import type { AuthPrompt, Credentials } from './auth';
import type { RemoteStream } from './participants';
import type { Participant, Quality } from './protocol';
import type { RecordingEvent, RecordingState } from './recording';
import type { SocketFactory } from './signaling';

/**
 * 'reconnecting': the media path broke and ICE restarts are mending it, or
 * the session dropped and we rejoin. 'auth': the room needs a password (see `auth`).
 */
export type PublisherStatus = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'auth' | 'error';

export interface PublisherState {
  status: PublisherStatus;
  /** Why status is 'error', in words. */
  error: string | null;
  /** Something to tell the person that did not stop the stream, or why we are reconnecting. */
  notice: string | null;
  /** Viewer count from the latest `state`, while connected. */
  viewers: number | null;
  /** Why status is 'auth': a password is needed, or the one given was wrong. */
  auth: AuthPrompt | null;
}

/** The room around the streamer: who is in it, and the guests' media. */
export interface PublisherRoom {
  selfId: string | null;
  participants: Participant[];
  speaker: string;
  /** Media received from guests on stage, by participant id. */
  remote: ReadonlyMap<string, readonly RemoteStream[]>;
  /** The room is being recorded; null when not. */
  recording: RecordingState | null;
}

export const EMPTY_ROOM: PublisherRoom = {
  selfId: null,
  participants: [],
  speaker: '',
  remote: new Map(),
  recording: null,
};

export interface PublisherOptions {
  room: string;
  /** A display name for the participants list. */
  name?: string;
  /** The token or password to join with, kept in memory across reconnects. */
  credentials?: Credentials;
  onRoom?: (room: PublisherRoom) => void;
  /** A recording started or stopped, or meetd refused our record request. */
  onRecording?: (event: RecordingEvent) => void;
  signalingUrl: string;
  /** The server's host, for error messages. */
  host: string;
  /** The media to send; read on every (re)connect so device changes carry over. */
  getStream: () => MediaStream;
  onChange: (state: PublisherState) => void;
  createSocket?: SocketFactory;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  /** How long the publish connection may be `disconnected` before ICE is restarted. */
  iceRestartAfterMs?: number;
  /** How long it may stay down, ICE restarts and all, before we rejoin. */
  disconnectGraceMs?: number;
  /** How long one attempt may take to become live before we retry. */
  connectTimeoutMs?: number;
  /** The video quality chosen for the guests' videos (views.ts); 'auto' when missing. */
  quality?: Quality;
  /** Calls back when the device's network changes (network.ts); returns a function that stops it. */
  watchNetwork?: (onChange: () => void) => () => void;
}
