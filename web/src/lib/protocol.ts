// The meetd wire protocol (docs/protocol.md): JSON objects, one per WebSocket
// text frame, each with a `type`. This module holds the message types, the
// decoders that check messages coming in, and the encoder for messages going out.

export type Role = 'stage' | 'audience';

/** Which of a participant's two peer connections a candidate belongs to. */
export type Target = 'publish' | 'subscribe';

export type ErrorCode =
  | 'bad_message'
  | 'unknown_type'
  | 'too_large'
  | 'bad_room'
  | 'bad_role'
  | 'not_joined'
  | 'wrong_state'
  | 'bad_sdp'
  | 'already_live'
  | 'not_allowed'
  | 'internal';

/** The error codes listed in docs/protocol.md. Unknown codes are still accepted. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'bad_message',
  'unknown_type',
  'too_large',
  'bad_room',
  'bad_role',
  'not_joined',
  'wrong_state',
  'bad_sdp',
  'already_live',
  'not_allowed',
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
  role: Role;
  name?: string;
}

export interface LeaveMessage {
  type: 'leave';
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
  role: Role;
  id: string;
  iceServers: IceServer[];
}

export interface StateMessage {
  type: 'state';
  room: string;
  live: boolean;
  viewers: number;
}

export interface ErrorMessage {
  type: 'error';
  code: ErrorCode | (string & {});
  message: string;
}

/** Every message of the protocol, in either direction. */
export type Message =
  | JoinMessage
  | LeaveMessage
  | OfferMessage
  | AnswerMessage
  | CandidateMessage
  | JoinedMessage
  | StateMessage
  | ErrorMessage;

export type ClientMessage = Extract<Message, { type: 'join' | 'offer' | 'answer' | 'candidate' | 'leave' }>;
export type ServerMessage = Extract<
  Message,
  { type: 'joined' | 'answer' | 'offer' | 'candidate' | 'state' | 'error' }
>;

// Records (rather than arrays) so that the compiler insists on every type.
const clientTypes: Record<ClientMessage['type'], true> = {
  join: true,
  offer: true,
  answer: true,
  candidate: true,
  leave: true,
};
const serverTypes: Record<ServerMessage['type'], true> = {
  joined: true,
  answer: true,
  offer: true,
  candidate: true,
  state: true,
  error: true,
};

export const CLIENT_MESSAGE_TYPES = Object.keys(clientTypes) as ClientMessage['type'][];
export const SERVER_MESSAGE_TYPES = Object.keys(serverTypes) as ServerMessage['type'][];

/** A message that does not follow docs/protocol.md. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

type Fields = Record<string, unknown>;

function parseObject(input: string | unknown): Fields {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      throw new ProtocolError('message is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('message is not a JSON object');
  }
  return value as Fields;
}

function str(m: Fields, key: string): string {
  const v = m[key];
  if (typeof v !== 'string') {
    throw new ProtocolError(`"${String(m.type)}" message needs a string "${key}"`);
  }
  return v;
}

function optStr(m: Fields, key: string): string | undefined {
  return m[key] === undefined ? undefined : str(m, key);
}

function bool(m: Fields, key: string): boolean {
  const v = m[key];
  if (typeof v !== 'boolean') {
    throw new ProtocolError(`"${String(m.type)}" message needs a boolean "${key}"`);
  }
  return v;
}

function count(m: Fields, key: string): number {
  const v = m[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new ProtocolError(`"${String(m.type)}" message needs a whole number "${key}" (0 or more)`);
  }
  return v;
}

function role(m: Fields): Role {
  const v = str(m, 'role');
  if (v !== 'stage' && v !== 'audience') {
    throw new ProtocolError(`"role" must be "stage" or "audience", not "${v}"`);
  }
  return v;
}

function target(m: Fields): Target | undefined {
  const v = optStr(m, 'target');
  if (v !== undefined && v !== 'publish' && v !== 'subscribe') {
    throw new ProtocolError(`"target" must be "publish" or "subscribe", not "${v}"`);
  }
  return v;
}

function iceCandidate(m: Fields): IceCandidate {
  const c = m.candidate;
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    throw new ProtocolError('"candidate" message needs a "candidate" object');
  }
  const f = c as Fields;
  if (typeof f.candidate !== 'string') {
    throw new ProtocolError('"candidate.candidate" must be a string');
  }
  const out: IceCandidate = { candidate: f.candidate };
  if (f.sdpMid !== undefined) {
    if (f.sdpMid !== null && typeof f.sdpMid !== 'string') {
      throw new ProtocolError('"candidate.sdpMid" must be a string or null');
    }
    out.sdpMid = f.sdpMid;
  }
  if (f.sdpMLineIndex !== undefined) {
    const i = f.sdpMLineIndex;
    if (i !== null && (typeof i !== 'number' || !Number.isInteger(i) || i < 0)) {
      throw new ProtocolError('"candidate.sdpMLineIndex" must be a whole number or null');
    }
    out.sdpMLineIndex = i;
  }
  if (f.usernameFragment !== undefined) {
    if (f.usernameFragment !== null && typeof f.usernameFragment !== 'string') {
      throw new ProtocolError('"candidate.usernameFragment" must be a string or null');
    }
    out.usernameFragment = f.usernameFragment;
  }
  return out;
}

function iceServers(m: Fields): IceServer[] {
  const list = m.iceServers;
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    throw new ProtocolError('"iceServers" must be an array');
  }
  return list.map((s: unknown, i): IceServer => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) {
      throw new ProtocolError(`"iceServers[${i}]" must be an object`);
    }
    const f = s as Fields;
    const urls = f.urls;
    const urlsOk =
      typeof urls === 'string' || (Array.isArray(urls) && urls.every((u) => typeof u === 'string'));
    if (!urlsOk) {
      throw new ProtocolError(`"iceServers[${i}].urls" must be a string or an array of strings`);
    }
    const out: IceServer = { urls: urls as string | string[] };
    const username = optStr(f, 'username');
    const credential = optStr(f, 'credential');
    if (username !== undefined) out.username = username;
    if (credential !== undefined) out.credential = credential;
    return out;
  });
}

function sdpMessage<T extends 'offer' | 'answer'>(m: Fields, type: T): { type: T; sdp: string } {
  return { type, sdp: str(m, 'sdp') };
}

function candidateMessage(m: Fields): CandidateMessage {
  const out: CandidateMessage = { type: 'candidate', candidate: iceCandidate(m) };
  const t = target(m);
  if (t !== undefined) out.target = t;
  return out;
}

/**
 * Decodes one message from meetd (the text of a WebSocket frame) and checks
 * its shape. Throws ProtocolError, saying what is wrong, on anything else.
 */
export function decodeServerMessage(text: string | unknown): ServerMessage {
  const m = parseObject(text);
  switch (m.type) {
    case 'joined':
      return { type: 'joined', room: str(m, 'room'), role: role(m), id: str(m, 'id'), iceServers: iceServers(m) };
    case 'answer':
      return sdpMessage(m, 'answer');
    case 'offer':
      return sdpMessage(m, 'offer');
    case 'candidate':
      return candidateMessage(m);
    case 'state':
      return { type: 'state', room: str(m, 'room'), live: bool(m, 'live'), viewers: count(m, 'viewers') };
    case 'error':
      return { type: 'error', code: str(m, 'code'), message: str(m, 'message') };
    default:
      throw unknownType(m.type, SERVER_MESSAGE_TYPES);
  }
}

/** Decodes one message a client sends. Throws ProtocolError on bad input. */
export function decodeClientMessage(text: string | unknown): ClientMessage {
  const m = parseObject(text);
  switch (m.type) {
    case 'join': {
      const out: JoinMessage = { type: 'join', room: str(m, 'room'), role: role(m) };
      const name = optStr(m, 'name');
      if (name !== undefined) out.name = name;
      return out;
    }
    case 'offer':
      return sdpMessage(m, 'offer');
    case 'answer':
      return sdpMessage(m, 'answer');
    case 'candidate':
      return candidateMessage(m);
    case 'leave':
      return { type: 'leave' };
    default:
      throw unknownType(m.type, CLIENT_MESSAGE_TYPES);
  }
}

/** Reports whether a value (or JSON text) is a well-formed client message. */
export function isClientMessage(input: string | unknown): boolean {
  try {
    decodeClientMessage(input);
    return true;
  } catch {
    return false;
  }
}

function unknownType(type: unknown, known: readonly string[]): ProtocolError {
  if (type === undefined) return new ProtocolError('message has no "type"');
  return new ProtocolError(`unknown message type ${JSON.stringify(type)} (expected one of ${known.join(', ')})`);
}

/** Encodes a message for sending. */
export function encode(msg: ClientMessage): string {
  return JSON.stringify(msg);
}
