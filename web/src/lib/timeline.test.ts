import { describe, expect, it } from 'vitest';
import { MasterClock, Synchronizer, chatUpTo, correction, localTime, timelineLength, type MediaLike } from './timeline';

describe('placing tracks on the timeline', () => {
  const cam = { offset: 2, duration: 10 };
  it('gives a track its own time, or null outside it', () => {
    expect(localTime(cam, 0)).toBeNull();
    expect(localTime(cam, 1.99)).toBeNull();
    expect(localTime(cam, 2)).toBe(0);
    expect(localTime(cam, 7.5)).toBe(5.5);
    expect(localTime(cam, 12)).toBeNull();
  });
  it('is as long as its last track', () => {
    expect(timelineLength([cam, { offset: 0, duration: 5 }, { offset: 8, duration: 9 }])).toBe(17);
    expect(timelineLength([], 3)).toBe(3);
  });
});

describe('correction', () => {
  it('leaves a close element alone', () => {
    expect(correction(5.02, 5)).toEqual({ seek: null, rate: 1 });
  });
  it('slows an element a little ahead, speeds one a little behind, within 10%', () => {
    expect(correction(5.1, 5).rate).toBeCloseTo(0.95);
    expect(correction(4.9, 5).rate).toBeCloseTo(1.05);
    expect(correction(5.29, 5).rate).toBeCloseTo(0.9);
  });
  it('seeks an element far off', () => {
    expect(correction(9, 5)).toEqual({ seek: 5, rate: 1 });
    expect(correction(0, 5)).toEqual({ seek: 5, rate: 1 });
  });
});

function fakeClock() {
  let now = 0;
  return { now: () => now, advance: (s: number) => (now += s * 1000) };
}

describe('MasterClock', () => {
  it('runs while playing, stops at the end, and seeks within the timeline', () => {
    const c = fakeClock();
    const m = new MasterClock(10, c.now);
    expect(m.time).toBe(0);
    c.advance(3);
    expect(m.time).toBe(0);
    m.play();
    c.advance(2.5);
    expect(m.time).toBe(2.5);
    m.pause();
    c.advance(5);
    expect(m.time).toBe(2.5);
    m.seek(8);
    m.play();
    c.advance(5);
    expect(m.time).toBe(10);
    expect(m.ended).toBe(true);
    m.seek(-3);
    expect(m.time).toBe(0);
    m.seek(99);
    expect(m.time).toBe(10);
  });
});

class FakeMedia implements MediaLike {
  currentTime = 0;
  paused = true;
  readyState = 4;
  seeking = false;
  playbackRate = 1;
  plays = 0;
  play() {
    this.paused = false;
    this.plays++;
  }
  pause() {
    this.paused = true;
  }
  /** The element plays for s seconds of wall time. */
  run(s: number) {
    if (!this.paused) this.currentTime += s * this.playbackRate;
  }
}

describe('Synchronizer', () => {
  const tracks = [
    { offset: 0, duration: 20 },
    { offset: 5, duration: 10 },
  ];

  function setup() {
    const c = fakeClock();
    const sync = new Synchronizer(new MasterClock(timelineLength(tracks), c.now));
    const els = [new FakeMedia(), new FakeMedia()];
    const advance = (s: number) => {
      c.advance(s);
      els.forEach((e) => e.run(s));
    };
    return { sync, els, advance };
  }

  it('plays a track only while the clock is inside it', () => {
    const { sync, els, advance } = setup();
    sync.play();
    let r = sync.step(tracks, els);
    expect(r.active).toEqual([true, false]);
    expect(els[0]!.paused).toBe(false);
    expect(els[1]!.paused).toBe(true);
    for (let i = 0; i < 60; i++) {
      advance(0.1);
      r = sync.step(tracks, els);
    }
    expect(r.active).toEqual([true, true]);
    expect(els[1]!.paused).toBe(false);
    // Each element at the clock's time minus its offset.
    advance(0.5);
    sync.step(tracks, els);
    expect(Math.abs(els[0]!.currentTime - sync.clock.time)).toBeLessThan(0.1);
    expect(Math.abs(els[1]!.currentTime + 5 - sync.clock.time)).toBeLessThan(0.1);
  });

  it('seeks every element with the clock, and waits for one still seeking', () => {
    const { sync, els, advance } = setup();
    sync.play();
    sync.step(tracks, els);
    sync.seek(12);
    els[1]!.seeking = false;
    sync.step(tracks, els);
    expect(els[0]!.currentTime).toBe(12);
    expect(els[1]!.currentTime).toBe(7);
    // The second is loading after the seek: the clock holds, and so does the first.
    els[1]!.readyState = 1;
    sync.step(tracks, els);
    advance(1);
    const held = sync.step(tracks, els);
    expect(held.waiting).toBe(true);
    expect(held.time).toBeCloseTo(12, 1);
    expect(els[0]!.paused).toBe(true);
    expect(sync.wantsPlay).toBe(true);
    // It loaded: everyone goes on together.
    els[1]!.readyState = 4;
    sync.step(tracks, els);
    sync.step(tracks, els);
    for (let i = 0; i < 20; i++) {
      advance(0.1);
      sync.step(tracks, els);
    }
    expect(Math.abs(els[0]!.currentTime - (els[1]!.currentTime + 5))).toBeLessThan(0.1);
    expect(sync.clock.time).toBeGreaterThan(13.5);
  });

  it('nudges a drifting element back without a seek', () => {
    const { sync, els, advance } = setup();
    sync.play();
    sync.step(tracks, els);
    els[0]!.currentTime += 0.2; // ahead
    sync.step(tracks, els);
    expect(els[0]!.playbackRate).toBeLessThan(1);
    for (let i = 0; i < 50; i++) {
      advance(0.1);
      sync.step(tracks, els);
    }
    expect(Math.abs(els[0]!.currentTime - sync.clock.time)).toBeLessThanOrEqual(0.03 + 1e-9);
    expect(els[0]!.playbackRate).toBe(1);
  });

  it('pauses everything on pause, and plays from the start after the end', () => {
    const { sync, els, advance } = setup();
    sync.play();
    sync.step(tracks, els);
    sync.pause();
    sync.step(tracks, els);
    expect(els.every((e) => e.paused)).toBe(true);
    sync.seek(20);
    sync.play();
    sync.step(tracks, els);
    expect(sync.clock.time).toBe(0);
    advance(0.1);
    sync.step(tracks, els);
    expect(els[0]!.paused).toBe(false);
  });
});

describe('chatUpTo', () => {
  it('shows the messages written by then', () => {
    const chat = [
      { time: 1, text: 'a' },
      { time: 5, text: 'b' },
      { time: 9, text: 'c' },
    ];
    expect(chatUpTo(chat, 0).map((c) => c.text)).toEqual([]);
    expect(chatUpTo(chat, 5).map((c) => c.text)).toEqual(['a', 'b']);
    expect(chatUpTo(chat, 100)).toHaveLength(3);
  });
});
