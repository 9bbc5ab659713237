import { describe, expect, it } from 'vitest';
import {
  correctedRoomName,
  isValidRoomName,
  meetingPath,
  meetingUrl,
  parseRoute,
  randomMeetingName,
  roomNameProblem,
  streamerPath,
  viewerPath,
  viewerUrl,
  type Route,
} from './rooms';

describe('parseRoute', () => {
  const table: [string, Route][] = [
    ['/', { kind: 'page', page: 'streamer', room: 'default' }],
    ['', { kind: 'page', page: 'streamer', room: 'default' }],
    ['/index.html', { kind: 'page', page: 'streamer', room: 'default' }],
    ['/viewer', { kind: 'page', page: 'viewer', room: 'default' }],
    ['/viewer/', { kind: 'page', page: 'viewer', room: 'default' }],
    ['/b/team', { kind: 'page', page: 'streamer', room: 'team' }],
    ['/b/team/', { kind: 'page', page: 'streamer', room: 'team' }],
    ['/b/team/viewer', { kind: 'page', page: 'viewer', room: 'team' }],
    ['/b/Team_1-a/viewer/', { kind: 'page', page: 'viewer', room: 'Team_1-a' }],
    ['/b/default', { kind: 'page', page: 'streamer', room: 'default' }],
    ['/b/' + 'x'.repeat(64), { kind: 'page', page: 'streamer', room: 'x'.repeat(64) }],
    ['/nope', { kind: 'not-found', path: '/nope' }],
    ['/viewer/extra', { kind: 'not-found', path: '/viewer/extra' }],
    ['/b', { kind: 'not-found', path: '/b' }],
    ['/b/', { kind: 'not-found', path: '/b/' }],
    ['/b/team/other', { kind: 'not-found', path: '/b/team/other' }],
    ['/b/team/viewer/more', { kind: 'not-found', path: '/b/team/viewer/more' }],
    ['//viewer', { kind: 'not-found', path: '//viewer' }],
    ['/B/team', { kind: 'not-found', path: '/B/team' }],
    ['/ws', { kind: 'not-found', path: '/ws' }],
    ['/meet', { kind: 'meet-home' }],
    ['/meet/', { kind: 'meet-home' }],
    ['/meet/brave-otter-42', { kind: 'page', page: 'meeting', room: 'brave-otter-42' }],
    ['/meet/team/', { kind: 'page', page: 'meeting', room: 'team' }],
    ['/meet/team/extra', { kind: 'not-found', path: '/meet/team/extra' }],
    ['/meeting', { kind: 'not-found', path: '/meeting' }],
  ];
  it.each(table)('%s', (path, want) => {
    expect(parseRoute(path)).toEqual(want);
  });

  const bad: [string, 'streamer' | 'viewer' | 'meeting', string, RegExp][] = [
    ['/meet/a.b', 'meeting', 'a.b', /meeting name “a.b” may only contain/],
    ['/b//viewer', 'viewer', '', /empty/],
    ['/b/has%20space', 'streamer', 'has space', /may only contain/],
    ['/b/a.b/viewer', 'viewer', 'a.b', /may only contain/],
    ['/b/%E2%9C%93', 'streamer', '✓', /may only contain/],
    ['/b/%zz', 'streamer', '%zz', /may only contain/],
    ['/b/' + 'y'.repeat(65), 'streamer', 'y'.repeat(65), /too long \(65 characters; at most 64\)/],
  ];
  it.each(bad)('%s is a bad name', (path, page, name, problem) => {
    const r = parseRoute(path);
    expect(r).toMatchObject({ kind: 'bad-room', page, name });
    if (r.kind !== 'bad-room') throw new Error('unreachable');
    expect(r.problem).toMatch(problem);
  });
});

describe('room names', () => {
  const table: [string, boolean][] = [
    ['default', true],
    ['a', true],
    ['A-Z_a-z_0-9', true],
    ['-', true],
    ['_', true],
    ['x'.repeat(64), true],
    ['', false],
    ['x'.repeat(65), false],
    ['a b', false],
    ['a/b', false],
    ['a.b', false],
    ['é', false],
    ['a\n', false],
  ];
  it.each(table)('%j valid: %s', (name, valid) => {
    expect(isValidRoomName(name)).toBe(valid);
    expect(roomNameProblem(name) === null).toBe(valid);
  });
});

describe('paths and links', () => {
  it('uses the short paths for the default broadcast', () => {
    expect(streamerPath('default')).toBe('/');
    expect(viewerPath('default')).toBe('/viewer');
  });
  it('uses /b/NAME for other broadcasts', () => {
    expect(streamerPath('team')).toBe('/b/team');
    expect(viewerPath('team')).toBe('/b/team/viewer');
  });
  it('builds full viewer URLs', () => {
    expect(viewerUrl('https://meet.example.org', 'team')).toBe('https://meet.example.org/b/team/viewer');
    expect(viewerUrl('http://127.0.0.1:8090/', 'default')).toBe('http://127.0.0.1:8090/viewer');
  });
  it('parses its own paths back', () => {
    for (const room of ['default', 'team', 'a_b-c']) {
      expect(parseRoute(streamerPath(room))).toEqual({ kind: 'page', page: 'streamer', room });
      expect(parseRoute(viewerPath(room))).toEqual({ kind: 'page', page: 'viewer', room });
    }
  });
});

describe('meetings', () => {
  it('has a path and a link per name', () => {
    expect(meetingPath('team')).toBe('/meet/team');
    expect(meetingUrl('https://meet.example.org/', 'team')).toBe('https://meet.example.org/meet/team');
    expect(parseRoute(meetingPath('a_b-c'))).toEqual({ kind: 'page', page: 'meeting', room: 'a_b-c' });
  });

  it('makes readable random names that are valid room names', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const name = randomMeetingName();
      expect(name).toMatch(/^[a-z]+-[a-z]+-[1-9][0-9]$/);
      expect(isValidRoomName(name)).toBe(true);
      seen.add(name);
    }
    expect(seen.size).toBeGreaterThan(150);
    expect(randomMeetingName(() => 0)).toBe('brave-otter-10');
    expect(randomMeetingName(() => 0.999999)).toBe('zesty-zebra-99');
  });
});

describe('corrected room names', () => {
  it('keep what is valid and mend the rest', () => {
    expect(correctedRoomName('team standup!')).toBe('team-standup');
    expect(correctedRoomName('café--olé')).toBe('cafe-ole');
    expect(correctedRoomName('  a/b  ')).toBe('a-b');
    expect(correctedRoomName('x'.repeat(80))).toBe('x'.repeat(64));
    expect(correctedRoomName('회의')).toBeNull();
    expect(correctedRoomName('!!!')).toBeNull();
  });
});
