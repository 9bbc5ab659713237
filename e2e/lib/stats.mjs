// What the page's recorded peer connections send and receive, from getStats():
// video frame sizes per simulcast layer (outbound-rtp) and as decoded (inbound-rtp).

/** The outbound video layers of the page's open peer connections: rid, frame size, fps, bytes, limit. */
export function outboundVideo(user) {
  return user.page.evaluate(async () => {
    const out = [];
    for (const pc of window.__e2ePeerConnections || []) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
        out.push({
          rid: s.rid ?? '',
          width: s.frameWidth ?? 0,
          height: s.frameHeight ?? 0,
          fps: s.framesPerSecond ?? 0,
          bytes: s.bytesSent ?? 0,
          active: s.active,
          limit: s.qualityLimitationReason ?? '',
        });
      });
    }
    return out.sort((a, b) => a.rid.localeCompare(b.rid));
  });
}

/** The inbound video of the page's open peer connections: frame size as decoded, frames decoded. */
export function inboundVideo(user) {
  return user.page.evaluate(async () => {
    const out = [];
    for (const pc of window.__e2ePeerConnections || []) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
        out.push({ width: s.frameWidth ?? 0, height: s.frameHeight ?? 0, decoded: s.framesDecoded ?? 0, bytes: s.bytesReceived ?? 0 });
      });
    }
    return out;
  });
}

/** Layers as text: "q 320x180@30 h 640x360@30 f 1280x720@30 (bandwidth)". */
export function layersText(layers) {
  const limits = [...new Set(layers.map((l) => l.limit).filter((l) => l && l !== 'none'))];
  const text = layers.map((l) => `${l.rid || '-'} ${l.width}x${l.height}@${Math.round(l.fps)}`).join(' ');
  return limits.length ? `${text} (limited by ${limits.join(', ')})` : text;
}
