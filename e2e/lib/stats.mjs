// What the page's recorded peer connections send and receive, from getStats():
// video frame sizes per simulcast layer (outbound-rtp) and as decoded (inbound-rtp).

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
