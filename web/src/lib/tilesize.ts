// Measures how big a <video> shows its picture, in device pixels, and
// follows it: resizes (ResizeObserver), scrolling out of sight
// (IntersectionObserver) and a picture of another shape. The result is what
// a ViewReporter (views.ts) sends as the stream's view.

import type { ViewSize } from './views';

/** The parts of a video element that are measured. */
export interface MeasuredVideo {
  clientWidth: number;
  clientHeight: number;
  videoWidth: number;
  videoHeight: number;
  addEventListener(type: 'resize', f: () => void): void;
  removeEventListener(type: 'resize', f: () => void): void;
}

/** The browser's observers and pixel ratio; tests pass stand-ins. */
export interface TileEnv {
  ResizeObserver?: new (cb: () => void) => { observe(el: object): void; disconnect(): void };
  IntersectionObserver?: new (cb: (entries: { isIntersecting: boolean }[]) => void) => {
    observe(el: object): void;
    disconnect(): void;
  };
  devicePixelRatio: () => number;
  /** The element's CSS object-fit. */
  objectFit: (el: MeasuredVideo) => string;
}

export function browserEnv(): TileEnv {
  return {
    ResizeObserver: typeof ResizeObserver === 'function' ? ResizeObserver : undefined,
    IntersectionObserver:
      typeof IntersectionObserver === 'function'
        ? (IntersectionObserver as unknown as TileEnv['IntersectionObserver'])
        : undefined,
    devicePixelRatio: () => (typeof window !== 'undefined' ? window.devicePixelRatio || 1 : 1),
    objectFit: (el) =>
      typeof getComputedStyle === 'function' ? getComputedStyle(el as unknown as Element).objectFit : 'contain',
  };
}

/**
 * The picture size a box of w×h CSS pixels needs: with object-fit contain
 * the picture fits inside the box, with cover it fills it (and is cut).
 * Until the picture's shape is known, the box itself.
 */
export function pictureSize(
  box: { width: number; height: number },
  picture: { width: number; height: number },
  fit: string,
): { width: number; height: number } {
  const { width, height } = box;
  if (width <= 0 || height <= 0) return { width: 0, height: 0 };
  if (picture.width <= 0 || picture.height <= 0 || (fit !== 'contain' && fit !== 'cover')) return box;
  const aspect = picture.width / picture.height;
  const wide = width / height > aspect;
  // contain: limited by the height when the box is wider than the picture; cover the other way round.
  const byHeight = fit === 'contain' ? wide : !wide;
  return byHeight ? { width: height * aspect, height } : { width, height: width / aspect };
}

/** Calls onSize with the video's size on screen now and whenever it changes; returns a function that stops. */
export function watchTileSize(
  el: MeasuredVideo,
  onSize: (size: ViewSize) => void,
  env: TileEnv = browserEnv(),
): () => void {
  let visible = true;
  let stopped = false;
  const measure = () => {
    if (stopped) return;
    if (!visible) {
      onSize({ width: 0, height: 0 });
      return;
    }
    const ratio = env.devicePixelRatio();
    const shown = pictureSize(
      { width: el.clientWidth, height: el.clientHeight },
      { width: el.videoWidth, height: el.videoHeight },
      env.objectFit(el),
    );
    onSize({ width: Math.round(shown.width * ratio), height: Math.round(shown.height * ratio) });
  };
  const resize = env.ResizeObserver ? new env.ResizeObserver(measure) : null;
  resize?.observe(el);
  const sight = env.IntersectionObserver
    ? new env.IntersectionObserver((entries) => {
        const last = entries[entries.length - 1];
        if (!last) return;
        visible = last.isIntersecting;
        measure();
      })
    : null;
  sight?.observe(el);
  // The picture's shape came or changed.
  el.addEventListener('resize', measure);
  measure();
  return () => {
    stopped = true;
    resize?.disconnect();
    sight?.disconnect();
    el.removeEventListener('resize', measure);
  };
}

/** The parts of a document that say whether the tab is hidden. */
export interface VisibilityDoc {
  hidden: boolean;
  addEventListener(type: 'visibilitychange', f: () => void): void;
  removeEventListener(type: 'visibilitychange', f: () => void): void;
}

/** Calls onHidden with whether the tab is hidden (or minimised) now and on every change; returns a function that stops. */
export function watchHidden(onHidden: (hidden: boolean) => void, doc: VisibilityDoc | undefined = globalThis.document): () => void {
  if (!doc) return () => {};
  const on = () => onHidden(doc.hidden);
  doc.addEventListener('visibilitychange', on);
  on();
  return () => doc.removeEventListener('visibilitychange', on);
}
