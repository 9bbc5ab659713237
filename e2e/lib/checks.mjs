// Waits and checks on what a page shows and plays. Each wait is short (15 s
// by default) and fails with what it last saw.

export const WAIT_MS = 15_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the <video> matched by selector really plays: readyState >= 2,
 * videoWidth > 0, and currentTime advances between two reads ~500 ms apart.
 * Returns the last observation.
 */
export async function waitForVideoPlaying(user, selector = 'video', timeoutMs = WAIT_MS) {
  const seen = await user.page.evaluate(
    async ({ selector, timeoutMs }) => {
      const pause = (ms) => new Promise((r) => setTimeout(r, ms));
      const deadline = Date.now() + timeoutMs;
      let last = { found: false };
      while (Date.now() < deadline) {
        const v = document.querySelector(selector);
        if (v && v.readyState >= 2 && v.videoWidth > 0) {
          const t1 = v.currentTime;
          await pause(500);
          const t2 = v.currentTime;
          last = {
            found: true,
            readyState: v.readyState,
            videoWidth: v.videoWidth,
            videoHeight: v.videoHeight,
            t1,
            t2,
            paused: v.paused,
            muted: v.muted,
          };
          if (t2 > t1) return { ok: true, ...last };
        } else {
          last = v
            ? { found: true, readyState: v.readyState, videoWidth: v.videoWidth, paused: v.paused, hasSource: !!v.srcObject }
            : { found: false };
          await pause(100);
        }
      }
      return { ok: false, ...last };
    },
    { selector, timeoutMs },
  );
  if (!seen.ok) {
    throw new Error(`${user.label}: ${selector} did not play within ${timeoutMs} ms; last seen ${JSON.stringify(seen)}`);
  }
  return seen;
}

/** Checks that the video's srcObject carries an audio track; returns the track count. */
export async function expectAudioTrack(user, selector = 'video') {
  const n = await user.page.evaluate((selector) => {
    const v = document.querySelector(selector);
    return v && v.srcObject ? v.srcObject.getAudioTracks().length : -1;
  }, selector);
  if (n <= 0) {
    throw new Error(`${user.label}: ${selector}.srcObject has no audio track (${n < 0 ? 'no srcObject' : '0 audio tracks'})`);
  }
  return n;
}

/**
 * Waits until one of the page's recorded peer connections reports inbound-rtp
 * audio with packetsReceived > 0. Returns the packet count.
 */
export async function waitForInboundAudio(user, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < deadline) {
    last = await user.page.evaluate(async () => {
      const pcs = (window.__e2ePeerConnections || []).filter((pc) => pc.connectionState !== 'closed');
      let packets = 0;
      const reports = [];
      for (const pc of pcs) {
        const stats = await pc.getStats();
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'audio') {
            packets += s.packetsReceived || 0;
            reports.push({ packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived });
          }
        });
      }
      return { peerConnections: pcs.length, packets, reports };
    });
    if (last.packets > 0) return last.packets;
    await sleep(250);
  }
  throw new Error(`${user.label}: no inbound audio RTP packets within ${timeoutMs} ms; last stats ${JSON.stringify(last)}`);
}

/** Waits until the text of locator (trimmed) equals expected. */
export async function waitForText(user, locator, expected, timeoutMs = WAIT_MS, what = 'text') {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < deadline) {
    last = await locator
      .first()
      .textContent({ timeout: 500 })
      .then((t) => t?.trim() ?? null)
      .catch(() => null);
    if (typeof expected === 'string' ? last === expected : expected.test(last ?? '')) return last;
    await sleep(100);
  }
  throw new Error(`${user.label}: ${what} is ${JSON.stringify(last)}, expected ${expected} within ${timeoutMs} ms`);
}

/** Waits until the page's status line (data-testid="status") reads expected. */
export function waitForStatus(user, expected, timeoutMs = WAIT_MS) {
  return waitForText(user, user.page.getByTestId('status'), expected, timeoutMs, 'status');
}

/** Checks the status stays expected for holdMs (it never changes to anything else). */
export async function expectStatusStays(user, expected, holdMs) {
  const deadline = Date.now() + holdMs;
  while (Date.now() < deadline) {
    const s = await user.status();
    if (s !== expected) {
      throw new Error(`${user.label}: status changed to ${JSON.stringify(s)}, expected it to stay ${JSON.stringify(expected)}`);
    }
    await sleep(200);
  }
}

/** Everything a viewer must show: video playing with an audio track, and audio arriving. */
export async function expectWatching(user, selector = 'video') {
  const video = await waitForVideoPlaying(user, selector);
  await expectAudioTrack(user, selector);
  const audioPackets = await waitForInboundAudio(user);
  return { ...video, audioPackets };
}
