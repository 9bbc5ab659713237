import { i18n } from '../i18n';
import { describe, expect, it } from 'vitest';
import { fakeStream } from './fakes.testutil';
import {
  buildTiles,
  changeText,
  chatClock,
  diffParticipants,
  displayName,
  gridShape,
  initials,
  splitStreamId,
  type RemoteStream,
} from './participants';
import type { Participant } from './protocol';

function person(id: string, p: Partial<Participant> = {}): Participant {
  return { id, name: id, role: 'stage', host: false, audio: true, video: true, screen: '', ...p };
}

describe('splitStreamId', () => {
  it.each([
    ['9f2c41d07a3b_a3f1c2d4-5b6e', { participant: '9f2c41d07a3b', stream: 'a3f1c2d4-5b6e' }],
    ['p1_{abc}_def', { participant: 'p1', stream: '{abc}_def' }],
    ['nounderscore', null],
    ['_lead', null],
    ['trail_', null],
    ['', null],
  ])('%s', (id, want) => {
    expect(splitStreamId(id)).toEqual(want);
  });
});

describe('names', () => {
  it('fills in missing names and makes initials', () => {
    expect(displayName(person('a', { name: '  ' }))).toBe('Guest');
    expect(displayName(person('a', { name: '', role: 'audience' }))).toBe('Viewer');
    expect(displayName(person('a', { name: ' Ana ' }))).toBe('Ana');
    expect(initials('Ana Lima')).toBe('AL');
    expect(initials('ana maria de lima')).toBe('AL');
    expect(initials('ben')).toBe('B');
    expect(initials('  ')).toBe('?');
    expect(initials('émile zola')).toBe('ÉZ');
  });
});

describe('gridShape', () => {
  it.each([
    [1, 1, 1],
    [2, 2, 1],
    [3, 2, 2],
    [4, 2, 2],
    [5, 3, 2],
    [6, 3, 2],
    [7, 3, 3],
    [9, 3, 3],
    [10, 4, 3],
    [12, 4, 3],
    [16, 4, 4],
  ])('%i tiles on a wide screen: %i×%i', (n, cols, rows) => {
    expect(gridShape(n, false)).toEqual({ cols, rows });
  });
  it.each([
    [1, 1, 1],
    [2, 1, 2],
    [3, 2, 2],
    [12, 2, 6],
  ])('%i tiles on a phone: %i×%i', (n, cols, rows) => {
    expect(gridShape(n, true)).toEqual({ cols, rows });
  });
});

describe('diffParticipants', () => {
  it('finds arrivals, departures and role changes, not yourself', () => {
    const before = [person('me'), person('a', { name: 'Ana' }), person('b', { name: 'Ben', role: 'audience' })];
    const after = [person('me', { role: 'audience' }), person('b', { name: 'Ben' }), person('c', { name: '' })];
    const changes = diffParticipants(before, after, 'me');
    expect(changes).toEqual([
      { kind: 'to-stage', id: 'b', name: 'Ben' },
      { kind: 'joined', id: 'c', name: 'Guest' },
      { kind: 'left', id: 'a', name: 'Ana' },
    ]);
    expect(changes.map(changeText)).toEqual(['Ben is now on stage', 'Guest joined', 'Ana left']);
    expect(diffParticipants(after, after, 'me')).toEqual([]);
  });

  it("says nothing about the audience when one's own role changes", () => {
    const before = [person('me'), person('ana', { name: 'Ana' }), person('v', { name: 'Vi', role: 'audience' })];
    const after = [person('me', { role: 'audience' }), person('ana', { name: 'Ana' })];
    expect(diffParticipants(before, after, 'me')).toEqual([]);
    expect(diffParticipants(after, before, 'me')).toEqual([]);
  });

  it('speaks of the stage when only the stage is listed', () => {
    const before = [person('me', { role: 'audience' }), person('host', { name: 'Host' }), person('b', { name: 'Ben' })];
    const after = [person('me', { role: 'audience' }), person('host', { name: 'Host' }), person('c', { name: 'Cy' })];
    expect(diffParticipants(before, after, 'me', { stageOnly: true }).map(changeText)).toEqual([
      'Cy is now on stage',
      'Ben left the stage',
    ]);
  });
});

describe('buildTiles', () => {
  it('puts yourself first, leaves the audience out and finds screen shares', () => {
    const cam = fakeStream([], 'b_cam');
    const scr = fakeStream([], 'b_scr');
    const remote = new Map<string, RemoteStream[]>([
      [
        'b',
        [
          { id: 'b_scr', streamId: 'scr', stream: scr },
          { id: 'b_cam', streamId: 'cam', stream: cam },
        ],
      ],
    ]);
    const mine = fakeStream([], 'mine');
    const myScreen = fakeStream([], 'myscreen');
    const list = [person('a'), person('b', { screen: 'scr' }), person('me'), person('v', { role: 'audience' })];
    const { cameras, screens } = buildTiles(list, 'me', remote, { camera: mine, screen: myScreen });
    expect(cameras.map((t) => [t.key, t.stream])).toEqual([
      ['me:camera', mine],
      ['a:camera', null],
      ['b:camera', cam],
    ]);
    expect(screens.map((t) => [t.key, t.stream])).toEqual([
      ['me:screen', myScreen],
      ['b:screen', scr],
    ]);
  });
});

describe('chatClock', () => {
  it('shows local hours and minutes in the user\'s locale', () => {
    const d = new Date(2026, 10, 24, 9, 5);
    expect(chatClock(d.toISOString())).toBe('09:05 AM');
    expect(chatClock('not a time')).toBe('not a time');
    void i18n.changeLanguage('ko');
    try {
      const ko = new Intl.DateTimeFormat('ko', { hour: '2-digit', minute: '2-digit' }).format(d);
      expect(chatClock(d.toISOString())).toBe(ko);
      expect(ko).not.toBe('09:05 AM');
    } finally {
      void i18n.changeLanguage('en');
    }
  });
});
