// Decoders for the meetd wire protocol (docs/protocol.md): they check that a
// message has the shape its type needs, and say in words what is wrong.

import type {
  CandidateMessage,
  ChatMessage,
  ClientMessage,
  IceCandidate,
  IceServer,
  JoinMessage,
  LayersMessage,
  MediaMessage,
  Participant,
  Quality,
  RecordingMessage,
  Role,
  RoomKind,
  ServerMessage,
  Target,
  ViewMessage,
} from './protocol';

// Records (rather than arrays) so that the compiler insists on every type.
const clientTypes: Record<ClientMessage['type'], true> = {
  join: true,
  offer: true,
  answer: true,
  candidate: true,
  media: true,
  chat: true,
  role: true,
  view: true,
  leave: true,
  restart: true,
  record: true,
};
const serverTypes: Record<ServerMessage['type'], true> = {
  joined: true,
  answer: true,
  offer: true,
  candidate: true,
  state: true,
  participants: true,
  role: true,
  invited: true,
  chat: true,
  speaker: true,
  layers: true,
  recording: true,
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

function kind(m: Fields): RoomKind | undefined {
  const v = optStr(m, 'kind');
  if (v !== undefined && v !== 'broadcast' && v !== 'meeting') {
    throw new ProtocolError(`"kind" must be "broadcast" or "meeting", not "${v}"`);
  }
  return v;
}

/** A string meetd may leave out when it is empty. */
const qualities: readonly Quality[] = ['auto', 'high', 'medium', 'low'];

function quality(m: Fields): Quality | undefined {
  const v = optStr(m, 'quality');
  if (v === undefined) return undefined;
  if (!(qualities as readonly string[]).includes(v)) {
    throw new ProtocolError(`"quality" must be one of ${qualities.join(', ')}, not "${v}"`);
  }
  return v as Quality;
}

function strList(m: Fields, key: string): string[] {
  const v = m[key];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new ProtocolError(`"${String(m.type)}" message needs a list of strings "${key}"`);
  }
  return v as string[];
}

function strOrEmpty(m: Fields, key: string): string {
  return optStr(m, key) ?? '';
}

function participants(m: Fields): Participant[] {
  const list = m.participants;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    throw new ProtocolError('"participants" must be an array');
  }
  return list.map((p: unknown, i): Participant => {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) {
      throw new ProtocolError(`"participants[${i}]" must be an object`);
    }
    const f = p as Fields;
    const flag = (key: string) => {
      const v = f[key];
      if (v === undefined) return false;
      if (typeof v !== 'boolean') throw new ProtocolError(`"participants[${i}].${key}" must be true or false`);
      return v;
    };
    return {
      id: str({ ...f, type: 'participants' }, 'id'),
      name: strOrEmpty(f, 'name'),
      role: role({ ...f, type: 'participants' }),
      host: flag('host'),
      audio: flag('audio'),
      video: flag('video'),
      screen: strOrEmpty(f, 'screen'),
      ...(flag('invited') ? { invited: true } : {}),
    };
  });
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

function recordingMessage(m: Fields): RecordingMessage {
  const id = strOrEmpty(m, 'id');
  if (bool(m, 'on')) {
    const since = m.since;
    if (typeof since !== 'number' || !Number.isFinite(since) || since < 0) {
      throw new ProtocolError('"recording" message needs a time "since" (ms since 1970)');
    }
    return { type: 'recording', on: true, id, since, by: strOrEmpty(m, 'by') };
  }
  return { type: 'recording', on: false, id, reason: strOrEmpty(m, 'reason') || 'stopped', message: strOrEmpty(m, 'message') };
}

/**
 * Decodes one message from meetd (the text of a WebSocket frame) and checks
 * its shape. Throws ProtocolError, saying what is wrong, on anything else.
 */
export function decodeServerMessage(text: string | unknown): ServerMessage {
  const m = parseObject(text);
  switch (m.type) {
    case 'joined':
      return {
        type: 'joined',
        room: str(m, 'room'),
        kind: kind(m) ?? 'broadcast',
        role: role(m),
        id: str(m, 'id'),
        iceServers: iceServers(m),
      };
    case 'answer':
      return sdpMessage(m, 'answer');
    case 'offer':
      return sdpMessage(m, 'offer');
    case 'candidate':
      return candidateMessage(m);
    case 'state':
      return {
        type: 'state',
        room: str(m, 'room'),
        live: bool(m, 'live'),
        viewers: count(m, 'viewers'),
        // Left out when false; an older meetd never sends it.
        ...(m.wasLive === undefined ? {} : bool(m, 'wasLive') ? { wasLive: true } : {}),
      };
    case 'participants':
      return { type: 'participants', participants: participants(m) };
    case 'role':
      return { type: 'role', role: role(m) };
    case 'invited':
      return { type: 'invited', room: str(m, 'room') };
    case 'chat': {
      const out: ChatMessage = {
        type: 'chat',
        id: strOrEmpty(m, 'id'),
        name: strOrEmpty(m, 'name'),
        text: str(m, 'text'),
        time: str(m, 'time'),
      };
      if (m.history !== undefined) out.history = bool(m, 'history');
      return out;
    }
    case 'speaker':
      return { type: 'speaker', id: strOrEmpty(m, 'id') };
    case 'layers': {
      const out: LayersMessage = { type: 'layers', track: str(m, 'track'), active: strList(m, 'active') };
      if (m.paused !== undefined) out.paused = strList(m, 'paused');
      return out;
    }
    case 'recording':
      return recordingMessage(m);
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
      const k = kind(m);
      if (k !== undefined) out.kind = k;
      const name = optStr(m, 'name');
      if (name !== undefined) out.name = name;
      const password = optStr(m, 'password');
      if (password !== undefined) out.password = password;
      const token = optStr(m, 'token');
      if (token !== undefined) out.token = token;
      return out;
    }
    case 'media': {
      const out: MediaMessage = { type: 'media', audio: bool(m, 'audio'), video: bool(m, 'video') };
      const screen = optStr(m, 'screen');
      if (screen !== undefined) out.screen = screen;
      return out;
    }
    case 'chat':
      return { type: 'chat', text: str(m, 'text') };
    case 'role':
      return { type: 'role', id: str(m, 'id'), role: role(m) };
    case 'offer':
      return sdpMessage(m, 'offer');
    case 'answer':
      return sdpMessage(m, 'answer');
    case 'candidate':
      return candidateMessage(m);
    case 'view': {
      const out: ViewMessage = { type: 'view', track: str(m, 'track'), width: count(m, 'width'), height: count(m, 'height') };
      const q = quality(m);
      if (q !== undefined) out.quality = q;
      return out;
    }
    case 'leave':
      return { type: 'leave' };
    case 'record':
      return { type: 'record', on: bool(m, 'on') };
    case 'restart':
      if (target(m) !== 'subscribe') throw new ProtocolError('"restart" needs "target": "subscribe"');
      return { type: 'restart', target: 'subscribe' };
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
