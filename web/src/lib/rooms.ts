// Routes of the app and broadcast (room) names.
//
//   /              streamer page of the broadcast "default"
//   /viewer        viewer page of "default"
//   /b/NAME        streamer page of broadcast NAME
//   /b/NAME/viewer viewer page of NAME
//   /meet          meetings home: start a new meeting or join one by name
//   /meet/NAME     the meeting NAME: pre-join screen, then the call
//   /diagnose      the connection check
//   /recordings    the recordings meetd keeps
//   /recordings/ID the replay of one recording

import { t } from '../i18n';
export const DEFAULT_ROOM = 'default';
export const MAX_ROOM_LENGTH = 64;

const ROOM_CHARS = /^[A-Za-z0-9_-]+$/;

/** Returns null if name is a valid room name, else words that say why not. */
export function roomNameProblem(name: string, noun: 'broadcast' | 'meeting' = 'broadcast'): string | null {
  if (name.length === 0) {
    return t('rooms.empty', { noun: t(`rooms.noun_${noun}`) });
  }
  if (name.length > MAX_ROOM_LENGTH) {
    return t('rooms.tooLong', { noun: t(`rooms.noun_${noun}`), length: name.length, max: MAX_ROOM_LENGTH });
  }
  if (!ROOM_CHARS.test(name)) {
    return t('rooms.badChars', { noun: t(`rooms.noun_${noun}`), name });
  }
  return null;
}

export function isValidRoomName(name: string): boolean {
  return roomNameProblem(name) === null;
}

export type Page = 'streamer' | 'viewer' | 'meeting';

export type Route =
  | { kind: 'page'; page: Page; room: string }
  | { kind: 'meet-home' }
  | { kind: 'diagnose' }
  | { kind: 'recordings' }
  | { kind: 'replay'; id: string }
  | { kind: 'bad-room'; page: Page; name: string; problem: string }
  | { kind: 'not-found'; path: string };

/** Maps a location.pathname to what the app shows. */
export function parseRoute(pathname: string): Route {
  // A trailing slash means the same page: /viewer/ is /viewer.
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;

  if (path === '/' || path === '' || path === '/index.html') {
    return { kind: 'page', page: 'streamer', room: DEFAULT_ROOM };
  }
  if (path === '/viewer') {
    return { kind: 'page', page: 'viewer', room: DEFAULT_ROOM };
  }

  if (path === '/meet') {
    return { kind: 'meet-home' };
  }
  if (path === '/diagnose') {
    return { kind: 'diagnose' };
  }
  if (path === '/recordings') {
    return { kind: 'recordings' };
  }

  const parts = path.split('/'); // ['', 'b', NAME], ['', 'b', NAME, 'viewer'] or ['', 'meet', NAME]
  if (parts[0] === '' && parts[1] === 'meet' && parts.length === 3) {
    const name = decodeSegment(parts[2]);
    const problem = roomNameProblem(name, 'meeting');
    if (problem !== null) return { kind: 'bad-room', page: 'meeting', name, problem };
    return { kind: 'page', page: 'meeting', room: name };
  }
  if (parts[0] === '' && parts[1] === 'recordings' && parts.length === 3 && parts[2] !== '') {
    return { kind: 'replay', id: decodeSegment(parts[2]) };
  }
  if (parts[0] !== '' || parts[1] !== 'b') {
    return { kind: 'not-found', path: pathname };
  }
  let page: Page;
  if (parts.length === 3) {
    page = 'streamer';
  } else if (parts.length === 4 && parts[3] === 'viewer') {
    page = 'viewer';
  } else {
    return { kind: 'not-found', path: pathname };
  }

  const name = decodeSegment(parts[2]);
  const problem = roomNameProblem(name);
  if (problem !== null) {
    return { kind: 'bad-room', page, name, problem };
  }
  return { kind: 'page', page, room: name };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed %-escape: keep as is; it fails validation anyway
  }
}

/** The path of a broadcast's streamer page. */
export function streamerPath(room: string): string {
  return room === DEFAULT_ROOM ? '/' : `/b/${room}`;
}

/** The path of a broadcast's viewer page. */
export function viewerPath(room: string): string {
  return room === DEFAULT_ROOM ? '/viewer' : `/b/${room}/viewer`;
}

/** The full viewer URL, for sharing: origin is location.origin. */
export function viewerUrl(origin: string, room: string): string {
  return origin.replace(/\/+$/, '') + viewerPath(room);
}

/** The path of a meeting. */
export function meetingPath(room: string): string {
  return `/meet/${room}`;
}

/** The full meeting URL, for sharing. */
export function meetingUrl(origin: string, room: string): string {
  return origin.replace(/\/+$/, '') + meetingPath(room);
}

const ADJECTIVES = [
  'brave', 'calm', 'clever', 'bright', 'eager', 'gentle', 'happy', 'jolly', 'kind', 'lively',
  'lucky', 'merry', 'nimble', 'proud', 'quick', 'quiet', 'sunny', 'swift', 'witty', 'zesty',
];
const ANIMALS = [
  'otter', 'badger', 'falcon', 'fox', 'heron', 'koala', 'lynx', 'marmot', 'panda', 'puffin',
  'rabbit', 'robin', 'seal', 'sparrow', 'tiger', 'turtle', 'walrus', 'whale', 'wolf', 'zebra',
];

/** A fresh, readable meeting name like "brave-otter-42". random returns [0, 1). */
export function randomMeetingName(random: () => number = Math.random): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length) % list.length]!;
  const n = 10 + (Math.floor(random() * 90) % 90);
  return `${pick(ADJECTIVES)}-${pick(ANIMALS)}-${n}`;
}

/**
 * A valid room name close to one that is not: other characters become "-",
 * runs of "-" one, none at either end, at most 64 characters. Null when
 * nothing usable is left.
 */
export function correctedRoomName(name: string): string | null {
  const fixed = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // é → e
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_ROOM_LENGTH)
    .replace(/-+$/, '');
  return fixed && isValidRoomName(fixed) ? fixed : null;
}
