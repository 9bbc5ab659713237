import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { RecordingListView, type ListView } from '../pages/Recordings';
import {
  combinedText,
  formatBytes,
  formatDuration,
  linkWithLogin,
  LoginNeeded,
  loadLogin,
  loginHeaders,
  needsRefresh,
  parseRecordingDetail,
  parseRecordingList,
  RecordingsApi,
  saveLogin,
  trackPath,
  type RecordingList,
} from './recordings';

const sample = {
  recordings: [
    {
      id: 'r2',
      room: 'standup',
      start: 1_796_544_900_000,
      end: null,
      duration: 65,
      size: 2_400_000,
      participants: ['Ana', 'Ben'],
      state: 'recording',
      combined: { state: 'waiting', progress: 0 },
      tracks: [],
    },
    {
      id: 'r1',
      room: 'class',
      start: 1_796_500_000_000,
      end: 1_796_500_754_000,
      duration: 754,
      size: 48_200_000,
      participants: ['Cy'],
      state: 'done',
      reason: 'disk_full',
      message: 'Recording stopped: the disk is nearly full.',
      combined: { state: 'making', progress: 0.42, size: 0 },
      tracks: [
        { file: 'cy-camera-1.webm', participant: 'Cy', kind: 'camera', codec: 'vp8', offset: 0, duration: 754, size: 40_000_000 },
        { file: 'cy-mic-1.webm', participant: 'Cy', kind: 'microphone', codec: 'opus', offset: 0.2, duration: 753, size: 8_200_000 },
      ],
    },
  ],
  ffmpeg: true,
  disk: { free: 20_000_000_000, used: 50_600_000, cap: 1_000_000_000 },
};

describe('parsing meetd’s answers', () => {
  it('reads the list, newest first as meetd gives it', () => {
    const l = parseRecordingList(sample);
    expect(l.recordings.map((r) => r.id)).toEqual(['r2', 'r1']);
    expect(l.recordings[0]).toMatchObject({ end: null, state: 'recording', tracks: [] });
    expect(l.recordings[1]!.combined).toEqual({ state: 'making', progress: 0.42, size: 0, error: '' });
    expect(l.recordings[1]!.tracks[1]).toMatchObject({ kind: 'microphone', offset: 0.2 });
    expect(l.disk).toEqual(sample.disk);
    expect(l.ffmpeg).toBe(true);
  });

  it('keeps a file placed a little before the start', () => {
    const l = parseRecordingList({
      recordings: [{ id: 'x', tracks: [{ file: 'a.webm', kind: 'microphone', offset: -0.12, duration: 5 }] }],
    });
    expect(l.recordings[0]!.tracks[0]).toMatchObject({ offset: -0.12, duration: 5 });
  });

  it('fills in what is left out, and refuses what is not a recording', () => {
    const l = parseRecordingList({ recordings: [{ id: 'x' }] });
    expect(l.recordings[0]).toMatchObject({ room: '', participants: [], tracks: [], state: 'done', end: null });
    expect(l.disk).toBeNull();
    expect(parseRecordingList({}).recordings).toEqual([]);
    expect(() => parseRecordingList({ recordings: [{}] })).toThrow(/no id/);
    expect(() => parseRecordingList([])).toThrow();
  });

  it('reads the chat of one recording in time order', () => {
    const d = parseRecordingDetail({
      ...sample.recordings[1],
      chat: [
        { time: 12.5, name: 'Cy', text: 'second' },
        { time: 3, name: 'Ana', text: 'first' },
      ],
    });
    expect(d.chat.map((c) => c.text)).toEqual(['first', 'second']);
  });
});

describe('words and numbers', () => {
  it('writes sizes as people read them', () => {
    expect(formatBytes(0, 'en')).toBe('0 bytes');
    expect(formatBytes(820_000, 'en')).toBe('820 kB');
    expect(formatBytes(48_200_000, 'en')).toBe('48 MB');
    expect(formatBytes(1_400_000_000, 'en')).toBe('1.4 GB');
  });

  it('writes durations as M:SS or H:MM:SS', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(65.4)).toBe('1:05');
    expect(formatDuration(3754)).toBe('1:02:34');
  });

  it('says how the combined file is coming along', () => {
    expect(combinedText({ state: 'making', progress: 0.42, size: 0, error: '' })).toBe('Making the combined video: 42%');
    expect(combinedText({ state: 'ready', progress: 1, size: 5_000_000, error: '' })).toBe('Combined video ready (5 MB).');
    expect(combinedText({ state: 'failed', progress: 0, size: 0, error: 'ffmpeg exited 1' })).toMatch(/ffmpeg exited 1/);
    expect(combinedText({ state: 'unavailable', progress: 0, size: 0, error: '' })).toMatch(/ffmpeg/);
    expect(combinedText({ state: 'waiting', progress: 0, size: 0, error: '' })).toMatch(/shortly/);
  });

  it('reads the list again while anything on it changes', () => {
    const l = parseRecordingList(sample);
    expect(needsRefresh(l)).toBe(true);
    const done: RecordingList = {
      ...l,
      recordings: l.recordings.map((r) => ({ ...r, state: 'done', combined: { ...r.combined, state: 'ready' } })),
    };
    expect(needsRefresh(done)).toBe(false);
  });
});

describe('signing in', () => {
  it('sends the admin password as user admin, a room’s in meetd’s headers', () => {
    expect(loginHeaders(null)).toEqual({});
    expect(loginHeaders({ kind: 'admin', password: 'secret' })).toEqual({ Authorization: `Basic ${btoa('admin:secret')}` });
    expect(loginHeaders({ kind: 'room', room: 'class', password: 'pw' })).toEqual({
      'X-Meetd-Room': 'class',
      'X-Meetd-Password': 'pw',
    });
    // UTF-8, as meetd decodes it.
    const basic = loginHeaders({ kind: 'admin', password: '비밀' }).Authorization!;
    expect(atob(basic.slice(6))).toBe('admin:\xeb\xb9\x84\xeb\xb0\x80');
  });

  it('puts a room login in links, never the admin password', () => {
    expect(linkWithLogin('/recordings/r1/combined', null)).toBe('/recordings/r1/combined');
    expect(linkWithLogin('/recordings/r1/combined', { kind: 'room', room: 'class', password: 'p&w' })).toBe(
      '/recordings/r1/combined?room=class&password=p%26w',
    );
    expect(linkWithLogin('/recordings/r1/combined', { kind: 'admin', password: 'pw' })).toBeNull();
  });

  it('keeps the login for the tab', () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
      removeItem: (k: string) => void store.delete(k),
    } as Storage;
    expect(loadLogin(storage)).toBeNull();
    saveLogin({ kind: 'room', room: 'class', password: 'pw' }, storage);
    expect(loadLogin(storage)).toEqual({ kind: 'room', room: 'class', password: 'pw' });
    saveLogin(null, storage);
    expect(loadLogin(storage)).toBeNull();
  });

  it('asks for a login on 401 with meetd’s words, and sends it once given', async () => {
    const seen: (string | null)[] = [];
    const fetcher = async (_url: string, init?: RequestInit) => {
      // No browser password box over the page's own form.
      expect(init?.credentials).toBe('omit');
      const auth = new Headers(init?.headers).get('Authorization');
      seen.push(auth);
      if (!auth) return new Response('{"error":"The recordings need the admin password."}', { status: 401 });
      return new Response(JSON.stringify(sample), { status: 200 });
    };
    await expect(new RecordingsApi(null, fetcher).list()).rejects.toThrow(LoginNeeded);
    await expect(new RecordingsApi(null, fetcher).list()).rejects.toThrow('The recordings need the admin password.');
    const l = await new RecordingsApi({ kind: 'admin', password: 'pw' }, fetcher).list();
    expect(l.recordings).toHaveLength(2);
    expect(seen.at(-1)).toBe(loginHeaders({ kind: 'admin', password: 'pw' }).Authorization);
  });

  it('deletes with DELETE, and says what went wrong in meetd’s words', async () => {
    const calls: string[] = [];
    const api = new RecordingsApi(null, async (url, init) => {
      calls.push(`${init?.method ?? 'GET'} ${url}`);
      return new Response('No such recording.', { status: 404 });
    });
    await expect(api.remove('a b')).rejects.toThrow('No such recording.');
    expect(calls).toEqual(['DELETE /api/recordings/a%20b']);
    expect(trackPath('a b', 'x.webm')).toBe('/recordings/a%20b/files/x.webm');
  });
});

describe('the recordings list', () => {
  const render = (view: ListView) =>
    renderToStaticMarkup(createElement(RecordingListView, { view, onLogin: () => {}, onDelete: () => {} }));
  const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

  it('says it is loading', () => {
    expect(text(render({ kind: 'loading' }))).toContain('Loading the recordings…');
  });

  it('asks for a login with meetd’s words', () => {
    const html = render({ kind: 'login', message: 'From another machine the recordings need a password.' });
    expect(text(html)).toContain('From another machine the recordings need a password.');
    expect(html).toContain('type="password"');
    expect(text(html)).toContain('admin password');
  });

  it('says why it could not load', () => {
    expect(text(render({ kind: 'error', message: 'Cannot reach the meetd server.' }))).toContain('Cannot reach the meetd server.');
  });

  it('says when there is nothing yet', () => {
    expect(text(render({ kind: 'list', list: { recordings: [], ffmpeg: true, disk: null } }))).toContain('No recordings yet');
  });

  it('lists room, date, duration, size, who, the combined file’s progress, and the downloads', () => {
    const html = render({ kind: 'list', list: parseRecordingList(sample) });
    const words = text(html);
    expect(words).toContain('standup');
    expect(words).toContain('Recording'); // the one that runs
    expect(words).toContain('Ana, Ben');
    expect(words).toContain('12:34');
    expect(words).toContain('48 MB');
    expect(words).toContain('Making the combined video: 42%');
    expect(words).toContain('Recording stopped: the disk is nearly full.');
    expect(html).toMatch(/<progress[^>]*value="0.42"/);
    expect(html).toContain('href="/recordings/r1"'); // watch
    expect(html).toContain('href="/recordings/r1/files/cy-camera-1.webm"');
    expect(words).toContain('Cy: camera');
    // Not ready: no combined download yet; a running recording cannot be deleted or watched.
    expect(html).not.toContain('/recordings/r1/combined');
    expect(html).not.toContain('href="/recordings/r2"');
    expect(words.match(/Delete/g)).toHaveLength(1);
    expect(words).toContain('Recordings use 51 MB of 1 GB');
  });

  it('offers the combined file once ready, and explains a server without ffmpeg', () => {
    const l = parseRecordingList({
      ...sample,
      ffmpeg: false,
      recordings: [{ ...sample.recordings[1], combined: { state: 'unavailable' } }],
    });
    const words = text(render({ kind: 'list', list: l }));
    expect(words).toContain('No combined files on this server');
    expect(words).toContain('ffmpeg');
    const ready = parseRecordingList({ ...sample, recordings: [{ ...sample.recordings[1], combined: { state: 'ready', size: 9e6 } }] });
    expect(render({ kind: 'list', list: ready })).toContain('href="/recordings/r1/combined"');
  });
});
