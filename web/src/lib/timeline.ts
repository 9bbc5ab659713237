// Playing a recording's tracks together: one master clock for the recording's
// timeline (play, pause, seek), and each track's <video>/<audio> kept at the
// clock's time minus the track's offset. An element that drifts a little is
// nudged with its playback rate; one that drifts far, or that the person
// moved, is seeked. While an element that should play is still loading, the
// clock waits for it, so nobody runs ahead. No DOM types beyond the few
// members of a media element used here, so the logic is tested with fakes.

/** Where a file sits on the recording's timeline, in seconds. */
export interface Placement {
  offset: number;
  duration: number;
}

/** The length of the timeline: up to the end of the last track (at least `min`). */
export function timelineLength(tracks: readonly Placement[], min = 0): number {
  return tracks.reduce((end, tr) => Math.max(end, tr.offset + tr.duration), min);
}

/** A track's own time at master time `master`; null before it starts or after it ends. */
export function localTime(track: Placement, master: number): number | null {
  const local = master - track.offset;
  if (local < 0 || local >= track.duration) return null;
  return local;
}

export interface SyncLimits {
  /** Drift (s) beyond which an element is seeked rather than nudged. */
  seekAfter: number;
  /** Drift (s) under which an element is left alone. */
  tolerance: number;
  /** The largest change of playback rate used to catch up (0.1: 0.9×–1.1×). */
  maxNudge: number;
}

export const SYNC: SyncLimits = { seekAfter: 0.3, tolerance: 0.03, maxNudge: 0.1 };

/**
 * What to do with an element at `elementTime` that should be at `local`: seek
 * to `seek`, or play at `rate` (slower when ahead, faster when behind).
 */
export function correction(elementTime: number, local: number, limits: SyncLimits = SYNC): { seek: number | null; rate: number } {
  const drift = elementTime - local;
  if (Math.abs(drift) > limits.seekAfter) return { seek: local, rate: 1 };
  if (Math.abs(drift) <= limits.tolerance) return { seek: null, rate: 1 };
  // Catch up over about two seconds, within the limit.
  const nudge = Math.max(-limits.maxNudge, Math.min(limits.maxNudge, drift / 2));
  return { seek: null, rate: 1 - nudge };
}

/** The recording's time: runs while playing, stops at the end, can be moved. */
export class MasterClock {
  private base = 0;
  private startedAt: number | null = null;

  constructor(
    private length: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get playing(): boolean {
    return this.startedAt !== null;
  }

  get duration(): number {
    return this.length;
  }

  setDuration(length: number): void {
    this.length = Math.max(0, length);
  }

  /** Seconds on the timeline. */
  get time(): number {
    const running = this.startedAt === null ? 0 : (this.now() - this.startedAt) / 1000;
    return Math.min(this.length, Math.max(0, this.base + running));
  }

  /** True when it reached the end (and stopped). */
  get ended(): boolean {
    return this.time >= this.length;
  }

  play(): void {
    if (this.startedAt !== null) return;
    if (this.ended) this.base = 0; // play again from the start
    this.startedAt = this.now();
  }

  pause(): void {
    if (this.startedAt === null) return;
    this.base = this.time;
    this.startedAt = null;
  }

  seek(to: number): void {
    this.base = Math.min(this.length, Math.max(0, to));
    if (this.startedAt !== null) this.startedAt = this.now();
  }
}

/** The members of an HTMLMediaElement the synchronizer uses. */
export interface MediaLike {
  currentTime: number;
  paused: boolean;
  readyState: number;
  seeking: boolean;
  playbackRate: number;
  play(): Promise<void> | void;
  pause(): void;
}

/** HTMLMediaElement.HAVE_FUTURE_DATA: it can play on from here. */
const CAN_PLAY = 3;

export interface SyncReport {
  /** The clock's time after this step. */
  time: number;
  /** Some element that should play is loading: the clock waits. */
  waiting: boolean;
  /** Which tracks play at this time (by index). */
  active: boolean[];
}

/**
 * Keeps elements on the clock: call step() often (every animation frame).
 * `tracks[i]` is placed at `elements[i]`; a null element is not there yet.
 */
export class Synchronizer {
  /** The clock was stopped by us, for loading elements, not by the person. */
  private held = false;

  constructor(
    readonly clock: MasterClock,
    private readonly limits: SyncLimits = SYNC,
  ) {}

  /** Whether the person wants it playing (a hold for loading elements counts as playing). */
  get wantsPlay(): boolean {
    return this.clock.playing || this.held;
  }

  play(): void {
    if (this.clock.ended) this.clock.seek(0);
    this.clock.play();
  }

  pause(): void {
    this.held = false;
    this.clock.pause();
  }

  seek(to: number): void {
    this.clock.seek(to);
  }

  step(tracks: readonly Placement[], elements: readonly (MediaLike | null)[]): SyncReport {
    const playing = this.wantsPlay && !this.clock.ended;
    // While the clock waits for a loading element, the others wait paused.
    const running = playing && !this.held;
    const time = this.clock.time;
    const active: boolean[] = [];
    let waiting = false;
    tracks.forEach((tr, i) => {
      const el = elements[i];
      const local = localTime(tr, time);
      active.push(local !== null);
      if (!el) {
        if (local !== null && playing) waiting = true;
        return;
      }
      if (local === null) {
        if (!el.paused) el.pause();
        // Ready at its first frame for when the clock reaches it.
        const park = time < tr.offset ? 0 : tr.duration;
        if (!el.seeking && Math.abs(el.currentTime - park) > this.limits.seekAfter) el.currentTime = park;
        return;
      }
      if (el.seeking) {
        if (playing) waiting = true;
        return;
      }
      const fix = correction(el.currentTime, local, this.limits);
      if (fix.seek !== null) {
        el.currentTime = fix.seek;
        if (playing) waiting = true;
        return;
      }
      if (el.playbackRate !== fix.rate) el.playbackRate = fix.rate;
      if (playing && el.readyState < CAN_PLAY) waiting = true;
      if (running && el.paused) void Promise.resolve(el.play()).catch(() => {});
      if (!running && !el.paused) el.pause();
    });

    if (running && waiting) {
      // Hold the clock, and everyone with it, while an element loads.
      this.clock.pause();
      this.held = true;
      for (const el of elements) if (el && !el.paused) el.pause();
    } else if (this.held && !waiting) {
      this.held = false;
      this.clock.play();
    }
    if (this.clock.ended) this.held = false;
    return { time: this.clock.time, waiting, active };
  }
}

/** The chat lines written by master time `time` (their `time` in seconds from the start). */
export function chatUpTo<T extends { time: number }>(chat: readonly T[], time: number): T[] {
  return chat.filter((c) => c.time <= time);
}
