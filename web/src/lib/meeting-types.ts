// The state, events and options of a Meeting session (meeting.ts).

import type { AuthPrompt, Credentials } from './auth';
import type { ChatEntry } from './chat';
import type { PeopleChange, RemoteStream } from './participants';
import type { Participant, Quality, Role, RoomKind } from './protocol';
import type { RecordingEvent, RecordingState } from './recording';
import type { SocketFactory } from './signaling';

/** 'auth': the room needs a password (see `auth`); authenticate() joins again. */
export type MeetingStatus = 'idle' | 'connecting' | 'joined' | 'reconnecting' | 'auth' | 'error';

/** What this participant publishes, as the others see it. */
export interface MediaFlags {
  audio: boolean;
  video: boolean;
  /** The stream id of the screen share; empty when none. */
  screen: string;
}

export interface MeetingState {
  status: MeetingStatus;
  /** Why status is 'error'. */
  error: { code: string; message: string } | null;
  /** Why status is 'auth': a password is needed, or the one given was wrong. */
  auth: AuthPrompt | null;
  /** meetd cannot be reached; the session keeps trying. */
  unreachable: boolean;
  kind: RoomKind;
  selfId: string | null;
  role: Role;
  participants: Participant[];
  /** Who is speaking; empty when nobody is. */
  speaker: string;
  live: boolean;
  /** The room was live since it opened, as meetd says or as seen since joining (a broadcast that ended). */
  wasLive: boolean;
  viewers: number | null;
  /** 'reconnecting': the media connection's path is down; ICE restarts are mending it. */
  publishing: 'off' | 'connecting' | 'on' | 'reconnecting';
  receiving: 'off' | 'connecting' | 'on' | 'reconnecting';
  /** Received streams by participant id. */
  remote: ReadonlyMap<string, readonly RemoteStream[]>;
  chat: readonly ChatEntry[];
  media: MediaFlags;
  /** The room is being recorded (everyone sees it); null when not. */
  recording: RecordingState | null;
}

export type MeetingEvent =
  | { type: 'people'; change: PeopleChange }
  /** A new chat message from someone else (not history). */
  | { type: 'chat'; entry: ChatEntry }
  /** The host invited us to the stage; call publish() to accept. */
  | { type: 'invited' }
  /** The host sent us back to the audience; meetd stopped our publishing. */
  | { type: 'to-audience' }
  /** A recording started or stopped, or meetd refused our record request. */
  | { type: 'recording'; event: RecordingEvent }
  /** Something meetd refused, or that failed, while the call goes on. */
  | { type: 'error'; code: string; message: string };

export interface MeetingOptions {
  room: string;
  kind: RoomKind;
  role: Role;
  name?: string;
  /** The token or password to join with, kept in memory across rejoins. */
  credentials?: Credentials;
  signalingUrl: string;
  host: string;
  /** The camera and microphone to publish; read whenever publishing starts. */
  getStream: () => MediaStream | null;
  /** Start publishing as soon as we are on stage (a meeting); otherwise wait for publish(). */
  autoPublish?: boolean;
  /** The video quality the viewer chose (views.ts); 'auto' when missing. */
  quality?: Quality;
  /** mic and camera on or off when the session starts. */
  media?: { audio: boolean; video: boolean };
  onChange: (state: MeetingState) => void;
  onEvent?: (event: MeetingEvent) => void;
  createSocket?: SocketFactory;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  /** How long a media connection may be `disconnected` before its ICE is restarted (2 s). */
  iceRestartAfterMs?: number;
  /** How long a media connection may stay down, ICE restarts and all, before we rejoin (15 s). */
  disconnectGraceMs?: number;
  /** Calls back when the device's network changes; returns a function that stops it (network.ts). */
  watchNetwork?: (onChange: () => void) => () => void;
}

/** A session's state before it starts. */
export function initialState(opts: MeetingOptions): MeetingState {
  const media = opts.media ?? { audio: true, video: true };
  return {
    status: 'idle',
    error: null,
    auth: null,
    unreachable: false,
    kind: opts.kind,
    selfId: null,
    role: opts.role,
    participants: [],
    speaker: '',
    live: false,
    wasLive: false,
    viewers: null,
    publishing: 'off',
    receiving: 'off',
    remote: new Map(),
    chat: [],
    media: { ...media, screen: '' },
    recording: null,
  };
}
