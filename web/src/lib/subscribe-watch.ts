// Follows a subscribe connection's ICE, for meetings and the streamer's guests alike.

import type { SubscribeConnection } from './subscribe';
import { IceWatch } from './watch';

export interface SubscribeWatchOptions {
  restartAfterMs: number;
  giveUpAfterMs: number;
  /** The connection while it is still the one followed; null once it is not. */
  current: () => SubscribeConnection | null;
  /** Asks meetd to restart ICE on it (`restart`, target `subscribe`). */
  askRestart: () => void;
  up?: () => void;
  down?: () => void;
  /** ICE restarts did not bring it back. */
  lost: () => void;
}

/**
 * Follows a subscribe connection. meetd offers it, so meetd restarts its
 * ICE when the path breaks; we ask for that only when meetd has not done it
 * since the path went down (or the network changed). If that does not mend
 * it, `lost` says so.
 */
export function watchSubscribe(o: SubscribeWatchOptions): IceWatch {
  let down = false;
  return new IceWatch({
    restartAfterMs: o.restartAfterMs,
    giveUpAfterMs: o.giveUpAfterMs,
    up: () => {
      down = false;
      o.up?.();
    },
    down: () => {
      down = true;
      o.current()?.markDown();
      o.down?.();
    },
    restart: () => {
      const s = o.current();
      if (!s || (down && s.restartedSinceDown)) return;
      o.askRestart();
    },
    lost: () => {
      if (o.current()) o.lost();
    },
  });
}
