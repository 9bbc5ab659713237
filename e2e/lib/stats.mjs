// What the page's recorded peer connections send and receive, from getStats():
// video frame sizes per simulcast layer (outbound-rtp) and as decoded (inbound-rtp).

import { sleep, WAIT_MS } from './wait.mjs';

/** The getStats() reports of each of the page's open peer connections: one Map of report id → report per connection. */
export async function connectionStats(user) {
  const all = await user.page.evaluate(async () => {
    const out = [];
    for (const pc of window.__e2ePeerConnections || []) {
      if (pc.connectionState === 'closed') continue;
      out.push([...(await pc.getStats()).values()]);
    }
    return out;
  });
  return all.map((reports) => new Map(reports.map((s) => [s.id, s])));
}

/** The reports of one type and kind ('outbound-rtp', 'video') of the page's open peer connections. */
async function reportsOf(user, type, kind) {
  const out = [];
  for (const stats of await connectionStats(user)) {
    for (const s of stats.values()) if (s.type === type && s.kind === kind) out.push(s);
  }
  return out;
}

/** The outbound video layers of the page's open peer connections: rid, frame size, fps, bytes, limit. */
export async function outboundVideo(user) {
  const out = (await reportsOf(user, 'outbound-rtp', 'video')).map((s) => ({
    rid: s.rid ?? '',
    width: s.frameWidth ?? 0,
    height: s.frameHeight ?? 0,
    fps: s.framesPerSecond ?? 0,
    bytes: s.bytesSent ?? 0,
    active: s.active,
    limit: s.qualityLimitationReason ?? '',
  }));
  return out.sort((a, b) => a.rid.localeCompare(b.rid));
}

/** The inbound video of the page's open peer connections: frame size as decoded, frames decoded. */
export async function inboundVideo(user) {
  return (await reportsOf(user, 'inbound-rtp', 'video')).map((s) => ({
    width: s.frameWidth ?? 0,
    height: s.frameHeight ?? 0,
    decoded: s.framesDecoded ?? 0,
    bytes: s.bytesReceived ?? 0,
  }));
}

/** Layers as text: "q 320x180@30 h 640x360@30 f 1280x720@30 (bandwidth)". */
export function layersText(layers) {
  const limits = [...new Set(layers.map((l) => l.limit).filter((l) => l && l !== 'none'))];
  const text = layers.map((l) => `${l.rid || '-'} ${l.width}x${l.height}@${Math.round(l.fps)}`).join(' ');
  return limits.length ? `${text} (limited by ${limits.join(', ')})` : text;
}

/**
 * Waits until a growing count that read() returns (bytes sent or received)
 * grows by less than `below` over `hold` ms: what was on the way has arrived
 * and nothing more comes. Returns { from, to, grown } of that stretch.
 */
export async function waitForQuiet(what, read, { below, hold = 2000, within = WAIT_MS, every = 250 } = {}) {
  const start = Date.now();
  const seen = [];
  for (;;) {
    const now = Date.now();
    seen.push({ t: now, n: await read() });
    const old = seen.findLast((x) => x.t <= now - hold);
    const last = seen.at(-1);
    if (old && last.n - old.n < below) return { from: old.n, to: last.n, grown: last.n - old.n };
    if (now - start >= within) {
      const grown = old ? last.n - old.n : null;
      throw new Error(`${what}: still grew by ${grown} (not under ${below}) in ${hold} ms after ${within} ms`);
    }
    await sleep(every);
  }
}
