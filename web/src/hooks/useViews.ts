// Received videos tell meetd how big they are shown (lib/views.ts): a page
// provides its session's ViewReporter, each remote <video> reports its size
// and visibility, and the page follows whether the tab is hidden and the
// viewer's quality choice.

import { createContext, useCallback, useContext, useEffect, useState, type RefObject } from 'react';
import { loadQuality, saveQuality } from '../lib/prefs';
import type { Quality } from '../lib/protocol';
import { watchHidden, watchTileSize } from '../lib/tilesize';
import type { ViewReporter } from '../lib/views';

/** The reporter of the page's session; null where nothing is received. */
export const ViewsContext = createContext<ViewReporter | null>(null);

/**
 * Reports the size of the video element `ref` while it shows the received
 * stream `track` (null: a local video, or nothing to report).
 */
export function useReportView(ref: RefObject<HTMLVideoElement | null>, track: string | null): void {
  useReportViewIn(useContext(ViewsContext), ref, track);
}

/** useReportView to a reporter given, not the page's. */
export function useReportViewIn(
  views: ViewReporter | null,
  ref: RefObject<HTMLVideoElement | null>,
  track: string | null,
): void {
  useEffect(() => {
    const el = ref.current;
    if (!views || !track || !el) return;
    const handle = views.show(track);
    const stop = watchTileSize(el, handle.update);
    return () => {
      stop();
      handle.release();
    };
  }, [views, track, ref]);
}

/**
 * The viewer's quality choice (remembered in this browser) for `views`, and
 * every video 0×0 while the tab is hidden.
 */
export function useQuality(views: ViewReporter | null | undefined): [Quality, (q: Quality) => void] {
  const [quality, setQuality] = useState<Quality>(() => loadQuality());
  useEffect(() => {
    views?.setQuality(quality);
  }, [views, quality]);
  useEffect(() => {
    if (!views) return;
    return watchHidden((hidden) => views.setHidden(hidden));
  }, [views]);
  const choose = useCallback((q: Quality) => {
    saveQuality(q);
    setQuality(q);
  }, []);
  return [quality, choose];
}
