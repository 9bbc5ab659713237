import { describe, expect, it } from 'vitest';
import { pictureSize, watchHidden, watchTileSize, type MeasuredVideo, type TileEnv, type VisibilityDoc } from './tilesize';
import type { ViewSize } from './views';

class FakeVideo implements MeasuredVideo {
  clientWidth = 320;
  clientHeight = 180;
  videoWidth = 0;
  videoHeight = 0;
  listeners = new Set<() => void>();
  addEventListener(_type: 'resize', f: () => void) {
    this.listeners.add(f);
  }
  removeEventListener(_type: 'resize', f: () => void) {
    this.listeners.delete(f);
  }
  /** The picture arrives, or changes shape. */
  picture(w: number, h: number) {
    this.videoWidth = w;
    this.videoHeight = h;
    for (const f of this.listeners) f();
  }
}

function env(ratio = 1, fit = 'contain') {
  const resizers: { cb: () => void; on: boolean }[] = [];
  const sights: { cb: (e: { isIntersecting: boolean }[]) => void; on: boolean }[] = [];
  const e: TileEnv = {
    ResizeObserver: class {
      o: { cb: () => void; on: boolean };
      constructor(cb: () => void) {
        this.o = { cb, on: false };
        resizers.push(this.o);
      }
      observe() {
        this.o.on = true;
      }
      disconnect() {
        this.o.on = false;
      }
    },
    IntersectionObserver: class {
      o: { cb: (e: { isIntersecting: boolean }[]) => void; on: boolean };
      constructor(cb: (e: { isIntersecting: boolean }[]) => void) {
        this.o = { cb, on: false };
        sights.push(this.o);
      }
      observe() {
        this.o.on = true;
      }
      disconnect() {
        this.o.on = false;
      }
    },
    devicePixelRatio: () => ratio,
    objectFit: () => fit,
  };
  return {
    env: e,
    resize: () => resizers.forEach((o) => o.on && o.cb()),
    sight: (isIntersecting: boolean) => sights.forEach((o) => o.on && o.cb([{ isIntersecting }])),
    observing: () => resizers.some((o) => o.on) || sights.some((o) => o.on),
  };
}

describe('watchTileSize', () => {
  it('reports the size in device pixels at once and on every resize', () => {
    const v = new FakeVideo();
    const w = env(2);
    const sizes: ViewSize[] = [];
    const stop = watchTileSize(v, (s) => sizes.push(s), w.env);
    expect(sizes).toEqual([{ width: 640, height: 360 }]);
    v.clientWidth = 960;
    v.clientHeight = 540;
    w.resize();
    expect(sizes.at(-1)).toEqual({ width: 1920, height: 1080 });
    stop();
    expect(w.observing()).toBe(false);
    w.resize();
    v.picture(1280, 720);
    expect(sizes).toHaveLength(2);
  });

  it('reports 0×0 while the tile is out of sight', () => {
    const v = new FakeVideo();
    const w = env();
    const sizes: ViewSize[] = [];
    watchTileSize(v, (s) => sizes.push(s), w.env);
    w.sight(false);
    expect(sizes.at(-1)).toEqual({ width: 0, height: 0 });
    w.resize(); // still out of sight
    expect(sizes.at(-1)).toEqual({ width: 0, height: 0 });
    w.sight(true);
    expect(sizes.at(-1)).toEqual({ width: 320, height: 180 });
  });

  it('measures the picture inside the box once its shape is known', () => {
    const v = new FakeVideo();
    v.clientWidth = 400;
    v.clientHeight = 300; // a 4:3 box
    const sizes: ViewSize[] = [];
    watchTileSize(v, (s) => sizes.push(s), env(1, 'contain').env);
    expect(sizes.at(-1)).toEqual({ width: 400, height: 300 });
    v.picture(1280, 720); // 16:9 inside: bars above and below
    expect(sizes.at(-1)).toEqual({ width: 400, height: 225 });
  });

  it('works without observers (one measure)', () => {
    const v = new FakeVideo();
    const sizes: ViewSize[] = [];
    watchTileSize(v, (s) => sizes.push(s), { devicePixelRatio: () => 1.5, objectFit: () => 'fill' });
    expect(sizes).toEqual([{ width: 480, height: 270 }]);
  });
});

describe('pictureSize', () => {
  const hd = { width: 1280, height: 720 };
  it('fits the picture in the box (contain) or the box in the picture (cover)', () => {
    expect(pictureSize({ width: 400, height: 300 }, hd, 'contain')).toEqual({ width: 400, height: 225 });
    expect(pictureSize({ width: 800, height: 300 }, hd, 'contain')).toEqual({ width: 300 * (16 / 9), height: 300 });
    expect(pictureSize({ width: 400, height: 300 }, hd, 'cover')).toEqual({ width: 300 * (16 / 9), height: 300 });
    expect(pictureSize({ width: 800, height: 300 }, hd, 'cover')).toEqual({ width: 800, height: 450 });
  });
  it('is the box without a picture yet or with fill, and nothing for an empty box', () => {
    expect(pictureSize({ width: 400, height: 300 }, { width: 0, height: 0 }, 'cover')).toEqual({ width: 400, height: 300 });
    expect(pictureSize({ width: 400, height: 300 }, hd, 'fill')).toEqual({ width: 400, height: 300 });
    expect(pictureSize({ width: 0, height: 300 }, hd, 'contain')).toEqual({ width: 0, height: 0 });
  });
});

describe('watchHidden', () => {
  it('says whether the tab is hidden now and when it changes', () => {
    const listeners = new Set<() => void>();
    const doc: VisibilityDoc = {
      hidden: false,
      addEventListener: (_t, f) => void listeners.add(f),
      removeEventListener: (_t, f) => void listeners.delete(f),
    };
    const seen: boolean[] = [];
    const stop = watchHidden((h) => seen.push(h), doc);
    doc.hidden = true;
    listeners.forEach((f) => f());
    stop();
    expect(listeners.size).toBe(0);
    expect(seen).toEqual([false, true]);
  });
});
