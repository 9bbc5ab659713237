import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ViewMessage } from './protocol';
import { toQuality, ViewReporter } from './views';

function reporter(opts: { connected?: () => boolean } = {}) {
  const sent: ViewMessage[] = [];
  const r = new ViewReporter({
    send: (m) => {
      if (opts.connected && !opts.connected()) return false;
      sent.push(m);
      return true;
    },
  });
  return { r, sent };
}

const view = (track: string, width: number, height: number, quality = 'auto') => ({
  type: 'view',
  track,
  width,
  height,
  quality,
});

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('ViewReporter', () => {
  it('sends a tile size once it has settled for 300 ms', () => {
    const { r, sent } = reporter();
    const tile = r.show('p1_cam');
    tile.update({ width: 640, height: 360 });
    vi.advanceTimersByTime(299);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([view('p1_cam', 640, 360)]);
  });

  it('gathers a burst of resizes into one message with the last size', () => {
    const { r, sent } = reporter();
    const tile = r.show('p1_cam');
    for (let w = 320; w <= 640; w += 40) {
      tile.update({ width: w, height: (w * 9) / 16 });
      vi.advanceTimersByTime(100);
    }
    vi.advanceTimersByTime(300);
    expect(sent).toEqual([view('p1_cam', 640, 360)]);
  });

  it('does not wait more than a second while sizes keep changing', () => {
    const { r, sent } = reporter();
    const tile = r.show('p1_cam');
    for (let i = 1; i <= 12; i++) {
      tile.update({ width: 100 * i, height: 50 * i });
      vi.advanceTimersByTime(100);
    }
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ width: 1000, height: 500 });
  });

  it('sends nothing when the size did not change', () => {
    const { r, sent } = reporter();
    const tile = r.show('p1_cam');
    tile.update({ width: 640, height: 360 });
    vi.advanceTimersByTime(300);
    tile.update({ width: 640.4, height: 359.6 }); // rounds to the same device pixels
    vi.advanceTimersByTime(300);
    tile.update({ width: 320, height: 180 });
    tile.update({ width: 640, height: 360 }); // and back before it went out
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([view('p1_cam', 640, 360)]);
  });

  it('sends 0×0 for a tile out of sight, and its size when it is back', () => {
    const { r, sent } = reporter();
    const tile = r.show('p1_cam');
    tile.update({ width: 640, height: 360 });
    vi.advanceTimersByTime(300);
    tile.update({ width: 0, height: 0 });
    vi.advanceTimersByTime(300);
    tile.update({ width: 640, height: 360 });
    vi.advanceTimersByTime(300);
    expect(sent).toEqual([view('p1_cam', 640, 360), view('p1_cam', 0, 0), view('p1_cam', 640, 360)]);
  });

  it('sends 0×0 for every video while the tab is hidden', () => {
    const { r, sent } = reporter();
    r.show('a_cam').update({ width: 640, height: 360 });
    r.show('b_cam').update({ width: 320, height: 180 });
    vi.advanceTimersByTime(300);
    sent.length = 0;
    r.setHidden(true);
    vi.advanceTimersByTime(300);
    expect(sent).toEqual([view('a_cam', 0, 0), view('b_cam', 0, 0)]);
    sent.length = 0;
    r.setHidden(false);
    vi.advanceTimersByTime(300);
    expect(sent).toEqual([view('a_cam', 640, 360), view('b_cam', 320, 180)]);
  });

  it('sends the quality with every view, and every view again when it changes', () => {
    const { r, sent } = reporter();
    r.show('a_cam').update({ width: 640, height: 360 });
    r.show('b_cam').update({ width: 0, height: 0 });
    vi.advanceTimersByTime(300);
    sent.length = 0;
    r.setQuality('low');
    expect(r.quality).toBe('low');
    vi.advanceTimersByTime(300);
    expect(sent).toEqual([view('a_cam', 640, 360, 'low'), view('b_cam', 0, 0, 'low')]);
    r.setQuality('low');
    vi.advanceTimersByTime(300);
    expect(sent).toHaveLength(2);
  });

  it('takes the largest of several tiles showing one stream, and 0×0 when the last one goes', () => {
    const { r, sent } = reporter();
    const small = r.show('a_cam');
    const large = r.show('a_cam');
    small.update({ width: 320, height: 180 });
    large.update({ width: 1280, height: 720 });
    vi.advanceTimersByTime(300);
    large.release();
    vi.advanceTimersByTime(300);
    small.release();
    small.update({ width: 99, height: 99 }); // released: ignored
    vi.advanceTimersByTime(300);
    expect(sent).toEqual([view('a_cam', 1280, 720), view('a_cam', 320, 180), view('a_cam', 0, 0)]);
  });

  it('tells a new session every view again, and forgets streams that are gone', () => {
    let connected = false;
    const { r, sent } = reporter({ connected: () => connected });
    const tile = r.show('a_cam');
    tile.update({ width: 640, height: 360 });
    vi.advanceTimersByTime(300);
    expect(sent).toEqual([]); // not in the room yet: nothing went
    connected = true;
    r.reset();
    vi.advanceTimersByTime(300);
    expect(sent).toEqual([view('a_cam', 640, 360)]);
    r.reset();
    vi.advanceTimersByTime(300);
    expect(sent).toEqual([view('a_cam', 640, 360), view('a_cam', 640, 360)]);

    tile.release();
    r.retain(['a_cam']); // still received: stays, at 0×0
    expect(r.views()).toEqual(new Map([['a_cam', { width: 0, height: 0 }]]));
    r.retain([]);
    expect(r.views()).toEqual(new Map());
  });

  it('sends nothing after stop', () => {
    const { r, sent } = reporter();
    r.show('a_cam').update({ width: 640, height: 360 });
    r.stop();
    vi.advanceTimersByTime(1000);
    r.flush();
    expect(sent).toEqual([]);
  });
});

describe('toQuality', () => {
  it('takes the four choices and makes anything else auto', () => {
    expect(['auto', 'high', 'medium', 'low', 'best', null, undefined].map(toQuality)).toEqual([
      'auto',
      'high',
      'medium',
      'low',
      'auto',
      'auto',
      'auto',
    ]);
  });
});
