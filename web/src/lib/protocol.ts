// The meetd wire protocol (docs/protocol.md): JSON objects, one per WebSocket
// text frame, each with a `type`. This module holds the message types and the
// encoder for messages going out; decode.ts checks the messages coming in.

export type Role = 'stage' | 'audience';

/** A broadcast has one streamer on stage; in a meeting everyone joins on stage. */
export type RoomKind = 'broadcast' | 'meeting';

/** Which of a participant's two peer connections a candidate belongs to. */
export type Target = 'publish' | 'subscribe';

export type ErrorCode =
  | 'bad_message'
  | 'unknown_type'
  | 'too_large'
  | 'bad_room'
  | 'bad_role'
  | 'bad_kind'
  | 'not_joined'
  | 'wrong_state'
  | 'bad_sdp'
  | 'already_live'
  | 'room_full'
  | 'not_host'
  | 'not_found'
  | 'not_allowed'
  | 'rate_limited'
  | 'shutting_down'
  | 'auth_required'
  | 'bad_credentials'
  | 'server_full'
  | 'too_slow'
  | 'record_unavailable'
  | 'internal';

/** The error codes listed in docs/protocol.md. Unknown codes are still accepted. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'bad_message',
  'unknown_type',
  'too_large',
  'bad_room',
  'bad_role',
  'bad_kind',
  'not_joined',
  'wrong_state',
  'bad_sdp',
  'already_live',
  'room_full',
  'not_host',
  'not_found',
  'not_allowed',
  'rate_limited',
  'shutting_down',
  'auth_required',
  'bad_credentials',
  'server_full',
  'too_slow',
  'record_unavailable',
  'internal',
];

/** An ICE candidate as RTCIceCandidate.toJSON() gives it. */
export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

// Messages from the client.

export interface JoinMessage {
  type: 'join';
  room: string;
  /** 'broadcast' when missing. */
  kind?: RoomKind;
  role: Role;
  name?: string;
  /** For rooms that need one (error auth_required). */
  password?: string;
  /** A signed invitation (HS256 JWT) for rooms that take one. */
  token?: string;
}

/** What the client publishes: microphone and camera on or off, and the stream id of its screen share. */
export interface MediaMessage {
  type: 'media';
  audio: boolean;
  video: boolean;
  /** Empty when nothing is shared. */
  screen?: string;
}

export interface ChatSendMessage {
  type: 'chat';
  text: string;
}

/** The host moves participant `id` to the stage or to the audience. */
export interface RoleRequestMessage {
  type: 'role';
  id: string;
  role: Role;
}

/** A viewer's choice among a simulcast camera's layers; 'auto' picks by tile size. */
export type Quality = 'auto' | 'high' | 'medium' | 'low';

/**
 * How the client shows the video of stream `track`: its tile's size in device
 * pixels, 0×0 when not visible (meetd then sends that video nothing).
 */
export interface ViewMessage {
  type: 'view';
  track: string;
  width: number;
  height: number;
  quality?: Quality;
}

/** The host (a broadcast's live streamer) starts or stops recording the room. */
export interface RecordMessage {
  type: 'record';
  on: boolean;
}

export interface LeaveMessage {
  type: 'leave';
}

/** Asks meetd to restart ICE on the subscribe connection (its side saw it fail, or the network changed). */
export interface RestartMessage {
  type: 'restart';
  target: 'subscribe';
}

// Messages in both directions: an offer or answer from the client belongs to
// its publish connection (offer) or subscribe connection (answer); from meetd
// the other way round.

export interface OfferMessage {
  type: 'offer';
  sdp: string;
}

export interface AnswerMessage {
  type: 'answer';
  sdp: string;
}

export interface CandidateMessage {
  type: 'candidate';
  /** Missing in messages of the original plain clients. */
  target?: Target;
  candidate: IceCandidate;
}

// Messages from meetd.

export interface JoinedMessage {
  type: 'joined';
  room: string;
  /** 'broadcast' when meetd does not say. */
  kind: RoomKind;
  role: Role;
  id: string;
  iceServers: IceServer[];
}

export interface StateMessage {
  type: 'state';
  room: string;
  live: boolean;
  viewers: number;
  /** The stage has published since the room opened (left out when not). */
  wasLive?: true;
}

/** One member of a room, as `participants` lists them. */
export interface Participant {
  id: string;
  name: string;
  role: Role;
  host: boolean;
  audio: boolean;
  video: boolean;
  /** The stream id of their screen share; empty when none. */
  screen: string;
  /** An audience member the host invited to the stage, who has not answered yet. */
  invited?: boolean;
}

export interface ParticipantsMessage {
  type: 'participants';
  participants: Participant[];
}

/** Your own role changed. */
export interface RoleChangedMessage {
  type: 'role';
  role: Role;
}

/** The host invites you to the stage: accept with a `role` message for yourself. */
export interface InvitedMessage {
  type: 'invited';
  room: string;
}

export interface ChatMessage {
  type: 'chat';
  /** Who wrote it. */
  id: string;
  name: string;
  text: string;
  /** UTC, RFC 3339. */
  time: string;
  /** Set on the messages a late joiner is sent first. */
  history?: boolean;
}

/** Who is speaking now; an empty id when nobody is. */
export interface SpeakerMessage {
  type: 'speaker';
  id: string;
}

/**
 * Which simulcast layers (RIDs) of the client's own camera meetd wants sent
 * (`active`) and paused (`paused`): `track` is the id of the MediaStream the
 * camera was published in. Layers in `paused` should be paused
 * (`RTCRtpSender.setParameters` with `active: false` on their encodings),
 * all others sent: meetd never pauses a layer it has not received yet.
 * Without `paused` (an older meetd), layers not in `active` pause.
 */
export interface LayersMessage {
  type: 'layers';
  track: string;
  active: string[];
  paused?: string[];
}

/** Why a recording stopped. */
export type RecordingStopReason = 'stopped' | 'disk_full' | 'ended' | 'error';

/**
 * The room is being recorded (`on`), from `since` (ms since the epoch), started
 * by `by`; or the recording stopped, with the reason and words for it. Sent to
 * everyone in the room, audience too, and right after `joined` while recording.
 */
export type RecordingMessage =
  | { type: 'recording'; on: true; id: string; since: number; by: string }
  | { type: 'recording'; on: false; id: string; reason: RecordingStopReason | (string & {}); message: string };

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode | (string & {});
  message: string;
}

/** Messages a client sends. */
export type ClientMessage =
  | JoinMessage
  | OfferMessage
  | AnswerMessage
  | CandidateMessage
  | MediaMessage
  | ChatSendMessage
  | RoleRequestMessage
  | ViewMessage
  | LeaveMessage
  | RestartMessage
  | RecordMessage;

/** Messages meetd sends. */
export type ServerMessage =
  | JoinedMessage
  | AnswerMessage
  | OfferMessage
  | CandidateMessage
  | StateMessage
  | ParticipantsMessage
  | RoleChangedMessage
  | InvitedMessage
  | ChatMessage
  | SpeakerMessage
  | LayersMessage
  | RecordingMessage
  | ErrorMessage;

/** Every message of the protocol, in either direction. */
export type Message = ClientMessage | ServerMessage;

export {
  CLIENT_MESSAGE_TYPES,
  SERVER_MESSAGE_TYPES,
  ProtocolError,
  decodeClientMessage,
  decodeServerMessage,
  isClientMessage,
} from './decode';

/** Encodes a message for sending. */
export function encode(msg: ClientMessage): string {
  return JSON.stringify(msg);
}
