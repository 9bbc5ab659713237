// A subscribe connection and the watch on its ICE, for meetings and the
// streamer's guests alike.

import type { ClientMessage, IceServer } from './protocol';
import { SubscribeConnection } from './subscribe';
import { IceWatch } from './watch';

export interface IncomingOptions {
  iceServers: IceServer[];
  send: (msg: ClientMessage) => void;
  createPeerConnection: (config: RTCConfiguration) => RTCPeerConnection;
  restartAfterMs: number;
  giveUpAfterMs: number;
  /** Whether conn is still the connection followed (same attempt, not replaced). */
  isCurrent: (conn: SubscribeConnection) => boolean;
  /** The received streams of conn changed. */
  onStreams: (conn: SubscribeConnection) => void;
  up?: () => void;
  down?: () => void;
  /** ICE restarts did not bring it back. */
  lost: () => void;
}

/**
 * Opens a subscribe connection and follows it. meetd offers it, so meetd
 * restarts its ICE when the path breaks; we ask for that (`restart`) only
 * when meetd has not done it since the path went down (or the network
 * changed). If that does not mend it, `lost` says so. Nothing is reported
 * of a connection no longer current.
 */
export function openIncoming(o: IncomingOptions): { conn: SubscribeConnection; watch: IceWatch } {
  const current = () => (o.isCurrent(conn) ? conn : null);
  let down = false;
  const watch = new IceWatch({
    restartAfterMs: o.restartAfterMs,
    giveUpAfterMs: o.giveUpAfterMs,
    up: () => {
      down = false;
      o.up?.();
    },
    down: () => {
      down = true;
      current()?.markDown();
      o.down?.();
    },
    restart: () => {
      const c = current();
      if (!c || (down && c.restartedSinceDown)) return;
      o.send({ type: 'restart', target: 'subscribe' });
    },
    lost: () => {
      if (current()) o.lost();
    },
  });
  const conn: SubscribeConnection = new SubscribeConnection({
    iceServers: o.iceServers,
    send: o.send,
    createPeerConnection: o.createPeerConnection,
    onState: (s) => {
      if (current()) watch.update(s);
    },
    onStreams: () => {
      if (current()) o.onStreams(conn);
    },
  });
  return { conn, watch };
}
