// The people of a room as the UI shows them: which received stream belongs
// to whom, the tiles of the call, join and leave notices, the grid's shape.
// Pure functions, no DOM and no React.

import { formatClock, t } from '../i18n';
import type { Participant } from './protocol';

/** A participant's part of a received stream id `<participant id>_<stream id>`. */
export interface StreamOwner {
  participant: string;
  stream: string;
}

/** Splits a received stream id at the first underscore; null when there is none. */
export function splitStreamId(id: string): StreamOwner | null {
  const i = id.indexOf('_');
  if (i <= 0 || i === id.length - 1) return null;
  return { participant: id.slice(0, i), stream: id.slice(i + 1) };
}

/** The name to show for a participant who gave none. */
export function displayName(p: Pick<Participant, 'name' | 'role'> | undefined): string {
  const name = p?.name.trim();
  // meetd numbers viewers who give no name ("Viewer 3"): in the user's language.
  const numbered = name ? /^Viewer (\d+)$/.exec(name) : null;
  if (numbered) return t('people.viewerN', { n: Number(numbered[1]) });
  if (name) return name;
  return p?.role === 'audience' ? t('people.viewer') : t('people.guest');
}

/** Up to two letters for an avatar: "Ana Lima" → "AL", "ben" → "B". */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  const first = [...words[0]!][0] ?? '';
  const last = words.length > 1 ? ([...words[words.length - 1]!][0] ?? '') : '';
  return (first + last).toUpperCase();
}

/** A received stream, tied to the participant who sent it. */
export interface RemoteStream {
  /** The full id as received. */
  id: string;
  /** The publisher's own stream id (what `screen` names). */
  streamId: string;
  stream: MediaStream;
}

export interface Tile {
  key: string;
  participant: Participant;
  kind: 'camera' | 'screen';
  /** The video to show; null for the self-view before the camera opened, or when nothing arrived yet. */
  stream: MediaStream | null;
  self: boolean;
}

/**
 * The tiles of a call: one camera tile per participant on stage (yourself
 * first), and one tile per screen share. Audience members get no tile.
 * `remote` maps participant ids to the streams received from them.
 */
export function buildTiles(
  participants: readonly Participant[],
  selfId: string | null,
  remote: ReadonlyMap<string, readonly RemoteStream[]>,
  local: { camera: MediaStream | null; screen: MediaStream | null },
): { cameras: Tile[]; screens: Tile[] } {
  const cameras: Tile[] = [];
  const screens: Tile[] = [];
  const stage = participants.filter((p) => p.role === 'stage');
  const ordered = [...stage.filter((p) => p.id === selfId), ...stage.filter((p) => p.id !== selfId)];
  for (const p of ordered) {
    const self = p.id === selfId;
    if (self) {
      cameras.push({ key: `${p.id}:camera`, participant: p, kind: 'camera', stream: local.camera, self });
      if (local.screen) {
        screens.push({ key: `${p.id}:screen`, participant: p, kind: 'screen', stream: local.screen, self });
      }
      continue;
    }
    const streams = remote.get(p.id) ?? [];
    const camera = streams.find((s) => s.streamId !== p.screen) ?? null;
    const screen = p.screen ? streams.find((s) => s.streamId === p.screen) : undefined;
    cameras.push({ key: `${p.id}:camera`, participant: p, kind: 'camera', stream: camera?.stream ?? null, self });
    if (screen) {
      screens.push({ key: `${p.id}:screen`, participant: p, kind: 'screen', stream: screen.stream, self });
    }
  }
  return { cameras, screens };
}

export type PeopleChange =
  | { kind: 'joined'; id: string; name: string }
  | { kind: 'left'; id: string; name: string }
  | { kind: 'to-stage'; id: string; name: string }
  | { kind: 'to-audience'; id: string; name: string }
  | { kind: 'left-stage'; id: string; name: string };

/**
 * What changed between two participant lists, leaving yourself out.
 * stageOnly: the lists show only the stage (a broadcast's audience sees no
 * one else in the audience), so someone appearing came onto the stage and
 * someone vanishing left it, for the room or for its audience.
 */
export function diffParticipants(
  before: readonly Participant[],
  after: readonly Participant[],
  selfId: string | null,
  { stageOnly = false }: { stageOnly?: boolean } = {},
): PeopleChange[] {
  const old = new Map(before.map((p) => [p.id, p]));
  const now = new Map(after.map((p) => [p.id, p]));
  // When our own role changes, so may whom we are shown: audience members
  // appearing or vanishing then say nothing about them.
  const selfMoved = selfId !== null && old.get(selfId)?.role !== now.get(selfId)?.role;
  const out: PeopleChange[] = [];
  for (const p of after) {
    if (p.id === selfId) continue;
    const was = old.get(p.id);
    const name = displayName(p);
    if (!was) {
      if (selfMoved && p.role === 'audience') continue;
      out.push({ kind: stageOnly && p.role === 'stage' ? 'to-stage' : 'joined', id: p.id, name });
    } else if (was.role !== p.role) {
      out.push({ kind: p.role === 'stage' ? 'to-stage' : 'to-audience', id: p.id, name });
    }
  }
  for (const p of before) {
    if (p.id === selfId || now.has(p.id)) continue;
    if (selfMoved && p.role === 'audience') continue;
    out.push({ kind: stageOnly && p.role === 'stage' ? 'left-stage' : 'left', id: p.id, name: displayName(p) });
  }
  return out;
}

/** The words of a notice: "Ana joined", "Ben left". */
export function changeText(c: PeopleChange): string {
  switch (c.kind) {
    case 'joined':
      return t('people.joined', { name: c.name });
    case 'left':
      return t('people.left', { name: c.name });
    case 'to-stage':
      return t('people.toStage', { name: c.name });
    case 'to-audience':
      return t('people.toAudience', { name: c.name });
    case 'left-stage':
      return t('people.leftStage', { name: c.name });
  }
}

/**
 * Columns and rows of the call grid for a number of tiles. Wide: 1→1, 2→2,
 * 3–4→2×2, 5–6→3×2, 7–9→3×3, 10–12→4×3, more→4 columns. Narrow (a phone):
 * one column for up to two tiles, else two.
 */
export function gridShape(count: number, narrow: boolean): { cols: number; rows: number } {
  const n = Math.max(1, count);
  let cols: number;
  if (narrow) cols = n <= 2 ? 1 : 2;
  else if (n === 1) cols = 1;
  else if (n <= 4) cols = 2;
  else if (n <= 9) cols = 3;
  else cols = 4;
  return { cols, rows: Math.ceil(n / cols) };
}

/** A chat time (RFC 3339) as a local time of day in the user's locale; the text as is when it is no time. */
export function chatClock(time: string): string {
  const d = new Date(time);
  if (Number.isNaN(d.getTime())) return time;
  return formatClock(d);
}
