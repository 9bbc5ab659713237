// ViewReporter tells meetd how big each received video is shown (the `view`
// message of docs/protocol.md), so that meetd forwards the simulcast layer
// that fits: the size of its tile in device pixels, 0×0 when no tile shows
// it (off screen, or the tab is hidden), and the quality the viewer chose.
// Changes are gathered for a moment (a window being dragged bigger sends
// one message, not fifty) and a view is sent only when it changed. No DOM:
// tilesize.ts measures the tiles.

import type { Quality, ViewMessage } from './protocol';

export const QUALITIES: readonly Quality[] = ['auto', 'high', 'medium', 'low'];

/** A video's size on screen in device pixels; 0×0 when it is not visible. */
export interface ViewSize {
  width: number;
  height: number;
}

/** One place a video is shown (a tile); several may show the same stream. */
export interface ViewHandle {
  /** The tile's size now (0×0 when not visible). */
  update(size: ViewSize): void;
  /** The tile is gone. */
  release(): void;
}

export interface ViewReporterOptions {
  /** Sends one message; false when it could not go out (no connection), to try again later. */
  send: (msg: ViewMessage) => boolean;
  quality?: Quality;
  /** How long changes are gathered before they are sent (300 ms). */
  debounceMs?: number;
  /** The longest changes wait while they keep coming (1 s). */
  maxWaitMs?: number;
}

const HIDDEN: ViewSize = { width: 0, height: 0 };

export class ViewReporter {
  /** The tiles showing each stream, by stream id: handle → size. */
  private readonly tiles = new Map<string, Map<object, ViewSize>>();
  /** What meetd was last told of each stream, as `w×h quality`. */
  private readonly sent = new Map<string, string>();
  private hidden = false;
  private choice: Quality;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the oldest change not yet sent came. */
  private pendingSince = 0;
  private stopped = false;

  constructor(private readonly opts: ViewReporterOptions) {
    this.choice = opts.quality ?? 'auto';
  }

  get quality(): Quality {
    return this.choice;
  }

  /** Starts reporting a tile that shows stream `track` (a received stream id). */
  show(track: string): ViewHandle {
    const key = {};
    let tiles = this.tiles.get(track);
    if (!tiles) {
      tiles = new Map();
      this.tiles.set(track, tiles);
    }
    tiles.set(key, HIDDEN);
    let released = false;
    return {
      update: (size) => {
        if (released) return;
        this.tiles.get(track)?.set(key, { width: clean(size.width), height: clean(size.height) });
        this.changed();
      },
      release: () => {
        if (released) return;
        released = true;
        // The stream stays known with no tile: 0×0 until it is gone (retain).
        this.tiles.get(track)?.delete(key);
        this.changed();
      },
    };
  }

  /** The tab is hidden (or minimised): every video 0×0 until it is back. */
  setHidden(hidden: boolean): void {
    if (hidden === this.hidden) return;
    this.hidden = hidden;
    this.changed();
  }

  /** The viewer's choice among the layers; goes out with every view. */
  setQuality(quality: Quality): void {
    if (quality === this.choice) return;
    this.choice = quality;
    this.changed();
  }

  /** Forgets streams that are no longer received (no message: meetd dropped them too). */
  retain(tracks: Iterable<string>): void {
    const keep = new Set(tracks);
    for (const track of [...this.tiles.keys()]) {
      if (keep.has(track) || (this.tiles.get(track)?.size ?? 0) > 0) continue;
      this.tiles.delete(track);
      this.sent.delete(track);
    }
  }

  /** A new session with meetd, which knows none of our views: tell it all again. */
  reset(): void {
    this.sent.clear();
    this.changed();
  }

  /** What each stream's view is now, by stream id. */
  views(): Map<string, ViewSize> {
    const out = new Map<string, ViewSize>();
    for (const [track, tiles] of this.tiles) {
      let width = 0;
      let height = 0;
      if (!this.hidden) {
        for (const s of tiles.values()) {
          width = Math.max(width, s.width);
          height = Math.max(height, s.height);
        }
      }
      // Both or neither: a tile of no height shows nothing.
      out.set(track, width > 0 && height > 0 ? { width, height } : HIDDEN);
    }
    return out;
  }

  /** Sends every view that changed, now. */
  flush(): void {
    this.clearTimer();
    if (this.stopped) return;
    for (const [track, { width, height }] of this.views()) {
      const said = `${width}×${height} ${this.choice}`;
      if (this.sent.get(track) === said) continue;
      if (this.opts.send({ type: 'view', track, width, height, quality: this.choice })) this.sent.set(track, said);
    }
  }

  /** Sends nothing more. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private changed(): void {
    if (this.stopped) return;
    const now = Date.now();
    const debounce = this.opts.debounceMs ?? 300;
    const maxWait = this.opts.maxWaitMs ?? 1000;
    if (this.timer === null) this.pendingSince = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(debounce, this.pendingSince + maxWait - now));
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function clean(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

/** A quality from storage or a form; 'auto' for anything else. */
export function toQuality(value: unknown): Quality {
  return QUALITIES.includes(value as Quality) ? (value as Quality) : 'auto';
}
