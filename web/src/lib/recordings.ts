// The recordings meetd keeps: its HTTP API (/api/recordings), checked into
// types, the words and numbers the pages show, and the sign-in the API asks
// for from other machines (the admin password, or a room's stage password
// for that room's recordings). No React.

import { formatElapsed, locale, t } from '../i18n';

export type TrackKind = 'camera' | 'microphone' | 'screen';
export type CombinedState = 'waiting' | 'making' | 'ready' | 'failed' | 'unavailable';

/** One file of a recording: one participant's camera, microphone or screen, placed on the timeline. */
export interface RecordedTrack {
  file: string;
  participant: string;
  kind: TrackKind | (string & {});
  codec: string;
  /** Where the file starts on the recording's timeline, in seconds. */
  offset: number;
  /** Seconds. */
  duration: number;
  /** Bytes. */
  size: number;
}

/** The one file meetd makes of all the tracks (with ffmpeg) after the recording stops. */
export interface Combined {
  state: CombinedState | (string & {});
  /** 0..1 while making. */
  progress: number;
  size: number;
  error: string;
}

export interface Recording {
  id: string;
  room: string;
  /** ms since 1970. */
  start: number;
  /** ms since 1970; null while recording. */
  end: number | null;
  /** Seconds. */
  duration: number;
  /** Bytes, all files. */
  size: number;
  participants: string[];
  state: 'recording' | 'done' | (string & {});
  /** Why it stopped (`stopped`, `disk_full`, `ended`, `error`) and meetd's words for it; empty while it runs. */
  reason: string;
  message: string;
  combined: Combined;
  tracks: RecordedTrack[];
}

export interface ChatLine {
  /** Seconds from the recording's start. */
  time: number;
  name: string;
  text: string;
}

export interface RecordingDetail extends Recording {
  chat: ChatLine[];
}

export interface Disk {
  free: number;
  used: number;
  cap: number;
}

export interface RecordingList {
  recordings: Recording[];
  /** meetd can make combined files. */
  ffmpeg: boolean;
  disk: Disk | null;
}

// Reading meetd's answers: tolerant of fields left out, strict about types.

type Fields = Record<string, unknown>;

function obj(v: unknown, what: string): Fields {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not an object`);
  return v as Fields;
}
const num = (v: unknown, fallback = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function parseTrack(v: unknown, i: number): RecordedTrack {
  const f = obj(v, `tracks[${i}]`);
  return {
    file: str(f.file),
    participant: str(f.participant),
    kind: str(f.kind),
    codec: str(f.codec),
    // Below 0 for a file placed by its sender's clock whose first packets
    // were on the way when the recording started.
    offset: num(f.offset),
    duration: Math.max(0, num(f.duration)),
    size: num(f.size),
  };
}

function parseCombined(v: unknown): Combined {
  if (typeof v !== 'object' || v === null) return { state: 'unavailable', progress: 0, size: 0, error: '' };
  const f = v as Fields;
  return {
    state: str(f.state) || 'waiting',
    progress: Math.min(1, Math.max(0, num(f.progress))),
    size: num(f.size),
    error: str(f.error),
  };
}

export function parseRecording(v: unknown): Recording {
  const f = obj(v, 'recording');
  const id = str(f.id);
  if (!id) throw new Error('recording has no id');
  return {
    id,
    room: str(f.room),
    start: num(f.start),
    end: typeof f.end === 'number' ? f.end : null,
    duration: Math.max(0, num(f.duration)),
    size: num(f.size),
    participants: list(f.participants).filter((p): p is string => typeof p === 'string'),
    state: str(f.state) || 'done',
    reason: str(f.reason),
    message: str(f.message),
    combined: parseCombined(f.combined),
    tracks: list(f.tracks).map(parseTrack).filter((tr) => tr.file !== ''),
  };
}

export function parseRecordingDetail(v: unknown): RecordingDetail {
  const rec = parseRecording(v);
  const chat = list(obj(v, 'recording').chat).map((c, i): ChatLine => {
    const f = obj(c, `chat[${i}]`);
    return { time: Math.max(0, num(f.time)), name: str(f.name), text: str(f.text) };
  });
  return { ...rec, chat: chat.sort((a, b) => a.time - b.time) };
}

export function parseRecordingList(v: unknown): RecordingList {
  const f = obj(v, 'answer');
  const d = f.disk;
  const disk =
    typeof d === 'object' && d !== null
      ? { free: num((d as Fields).free), used: num((d as Fields).used), cap: num((d as Fields).cap) }
      : null;
  return {
    recordings: list(f.recordings).map(parseRecording),
    ffmpeg: f.ffmpeg !== false,
    disk,
  };
}

// Sign-in.

/** Who opens the recordings from another machine: the operator, or someone on a room's stage. */
export type RecordingsLogin = { kind: 'admin'; password: string } | { kind: 'room'; room: string; password: string };

const LOGIN_KEY = 'meetd.recordings.login';

/**
 * What goes with a request: the admin password as HTTP basic auth (user
 * "admin", as for /admin/stats), a room's stage password as meetd's
 * X-Meetd-Room and X-Meetd-Password headers.
 */
export function loginHeaders(login: RecordingsLogin | null): Record<string, string> {
  if (!login) return {};
  if (login.kind === 'room') return { 'X-Meetd-Room': login.room, 'X-Meetd-Password': login.password };
  const bytes = new TextEncoder().encode(`admin:${login.password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return { Authorization: `Basic ${btoa(bin)}` };
}

/**
 * A file's address with a room login in its query (meetd takes
 * ?room=&password= where a link or a media element cannot send headers);
 * null for the admin login, which only goes in a header.
 */
export function linkWithLogin(path: string, login: RecordingsLogin | null): string | null {
  if (!login) return path;
  if (login.kind === 'admin') return null;
  const q = new URLSearchParams({ room: login.room, password: login.password });
  return `${path}${path.includes('?') ? '&' : '?'}${q}`;
}

/** meetd's words in an answer that is not OK: its JSON `error`, or the text. */
export async function answerWords(res: Response): Promise<string> {
  const text = (await res.text().catch(() => '')).trim();
  try {
    const v = JSON.parse(text) as { error?: unknown };
    if (typeof v.error === 'string' && v.error) return v.error;
  } catch {
    // Plain words.
  }
  return text;
}

/** The login given in this tab (kept for the tab's life, so the replay page opened from the list has it). */
export function loadLogin(storage: Storage | undefined = globalThis.sessionStorage): RecordingsLogin | null {
  try {
    const raw = storage?.getItem(LOGIN_KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as RecordingsLogin;
    if (v.kind === 'admin' && typeof v.password === 'string') return v;
    if (v.kind === 'room' && typeof v.room === 'string' && typeof v.password === 'string') return v;
  } catch {
    // Nothing usable kept.
  }
  return null;
}

export function saveLogin(login: RecordingsLogin | null, storage: Storage | undefined = globalThis.sessionStorage): void {
  try {
    if (login) storage?.setItem(LOGIN_KEY, JSON.stringify(login));
    else storage?.removeItem(LOGIN_KEY);
  } catch {
    // Storage off: the login lasts for this page only.
  }
}

/** meetd wants a login (401), or a better one; `message` is its words. */
export class LoginNeeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoginNeeded';
  }
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** The recordings API of the meetd this page came from. */
export class RecordingsApi {
  constructor(
    private readonly login: RecordingsLogin | null,
    private readonly fetcher: Fetch = (i, init) => fetch(i, init),
  ) {}

  private headers(): HeadersInit {
    return loginHeaders(this.login);
  }

  private async call(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      // credentials 'omit': meetd's 401 carries a basic-auth challenge, which
      // would otherwise open the browser's own password box before our form.
      res = await this.fetcher(path, {
        ...init,
        headers: { ...this.headers(), ...init.headers },
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch {
      throw new Error(t('recordings.unreachable'));
    }
    if (res.status === 401 || res.status === 403) {
      throw new LoginNeeded((await answerWords(res)) || t('recordings.loginNeeded'));
    }
    if (!res.ok) {
      throw new Error((await answerWords(res)) || t('recordings.failed', { status: res.status }));
    }
    return res;
  }

  async list(): Promise<RecordingList> {
    return parseRecordingList(await (await this.call('/api/recordings')).json());
  }

  async get(id: string): Promise<RecordingDetail> {
    return parseRecordingDetail(await (await this.call(`/api/recordings/${encodeURIComponent(id)}`)).json());
  }

  async remove(id: string): Promise<void> {
    await this.call(`/api/recordings/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** A file's address for a link or a media element, with a room login in its query; null for the admin login. */
  link(path: string): string | null {
    return linkWithLogin(path, this.login);
  }

  /**
   * A file of a recording as an address the page can use (a download link, a
   * <video> source): the link itself when it can carry the login, else a
   * blob of the file fetched with the login in a header.
   */
  async fileUrl(path: string): Promise<string> {
    const direct = this.link(path);
    if (direct !== null) return direct;
    const res = await this.call(path);
    return URL.createObjectURL(await res.blob());
  }
}

/** Where a track's file is downloaded from. */
export function trackPath(id: string, file: string): string {
  return `/recordings/${encodeURIComponent(id)}/files/${encodeURIComponent(file)}`;
}

/** Where the combined file is downloaded from. */
export function combinedPath(id: string): string {
  return `/recordings/${encodeURIComponent(id)}/combined`;
}

export function replayPath(id: string): string {
  return `/recordings/${encodeURIComponent(id)}`;
}

// Words and numbers.

/** A size in bytes, as people read it: "820 KB", "1.4 GB". */
export function formatBytes(bytes: number, lng: string = locale()): string {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;
  let v = Math.max(0, bytes);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return new Intl.NumberFormat(lng, {
    style: 'unit',
    unit: units[i],
    unitDisplay: i === 0 ? 'long' : 'short',
    maximumFractionDigits: v < 10 && i > 0 ? 1 : 0,
  }).format(v);
}

/** A duration in seconds as M:SS or H:MM:SS. */
export function formatDuration(seconds: number): string {
  return formatElapsed(Math.round(seconds) * 1000);
}

/** When a recording started: date and time in the user's locale. */
export function formatWhen(ms: number, lng: string = locale()): string {
  return new Intl.DateTimeFormat(lng, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

/** What the list says of a recording's combined file. */
export function combinedText(c: Combined): string {
  switch (c.state) {
    case 'ready':
      return t('recordings.combinedReady', { size: formatBytes(c.size) });
    case 'making':
      return t('recordings.combinedMaking', { percent: Math.round(c.progress * 100) });
    case 'failed':
      return c.error ? t('recordings.combinedFailedWords', { words: c.error }) : t('recordings.combinedFailed');
    case 'unavailable':
      return t('recordings.combinedUnavailable');
    default:
      return t('recordings.combinedWaiting');
  }
}

/** The kind of a track in words. */
export function trackKindText(kind: string): string {
  switch (kind) {
    case 'camera':
      return t('recordings.kindCamera');
    case 'microphone':
      return t('recordings.kindMicrophone');
    case 'screen':
      return t('recordings.kindScreen');
    default:
      return kind;
  }
}

/** The list needs refreshing while something changes on meetd's side (a recording runs, a file is made). */
export function needsRefresh(l: RecordingList): boolean {
  return l.recordings.some(
    (r) => r.state === 'recording' || r.combined.state === 'waiting' || r.combined.state === 'making',
  );
}
