// Waits and checks on what a page shows and plays. Each wait polls its
// condition with a deadline (15 s by default) and fails with what it last saw.

import { expectFramesGrow } from './media.mjs';
import { sleep, WAIT_MS } from './wait.mjs';

export { WAIT_MS };

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

/**
 * Everything a viewer must show: video playing (its frames growing) with an
 * audio track, and audio arriving. Whether the sound is heard is
 * expectSound's (lib/media.mjs) to say: a muted element plays none.
 */
export async function expectWatching(user, selector = 'video') {
  const video = await expectFramesGrow(user, selector);
  await expectAudioTrack(user, selector);
  const audioPackets = await waitForInboundAudio(user);
  return { ...video, audioPackets };
}
