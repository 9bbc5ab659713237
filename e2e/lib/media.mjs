// What a person checks with eyes and ears, read from the page: a video plays
// when its picture moves (the element's frame count grows; a MediaStream's
// currentTime goes on without any frame), and a sound is heard when the page
// decodes and plays energy from it (inbound-rtp audio totalAudioEnergy grows).
//
// Chromium's fake microphone beeps about twice a second (a 20 ms tone at full
// level, then silence), and one beep adds about 0.1 to the receiver's
// totalAudioEnergy. The energy is measured after the element's volume: a
// received track played only by a muted element adds none.

import { sleep, WAIT_MS } from './wait.mjs';

/** Frames a video must show to count as playing: a third of a second at 30 fps, more than a stall's stragglers. */
export const FRAMES = 10;
/** Energy growth that counts as heard: a fifth of one beep. */
export const SOUND_ENERGY = 0.02;
/** Energy growth that still counts as silence: a hundredth of one beep (an echo of the last one fading). */
export const SILENCE_ENERGY = 0.001;
/** How long a silence must last: three beep periods, so a gap between beeps is not taken for silence. */
export const SILENCE_HOLD_MS = 1500;


/**
 * Waits until the <video> matched by selector shows `frames` more frames
 * (getVideoPlaybackQuality().totalVideoFrames; in Firefox, where that stays
 * 0 for WebRTC video, mozPaintedFrames) than when the wait began, with
 * readyState >= 2 and videoWidth > 0. A new srcObject starts the count again.
 * A frozen picture fails. Returns the last observation: videoWidth,
 * videoHeight, frames (gained), ms (taken), muted, paused.
 */
export async function expectFramesGrow(user, selector = 'video', { frames = FRAMES, within = WAIT_MS } = {}) {
  const seen = await user.page.evaluate(
    async ({ selector, frames, within }) => {
      const pause = (ms) => new Promise((r) => setTimeout(r, ms));
      const start = Date.now();
      let base = null;
      let last = { found: false };
      for (;;) {
        const v = document.querySelector(selector);
        if (v && v.readyState >= 2 && v.videoWidth > 0) {
          // Firefox keeps totalVideoFrames at 0 for WebRTC video; it counts painted frames.
          const shown = v.getVideoPlaybackQuality().totalVideoFrames;
          const total = shown > 0 || typeof v.mozPaintedFrames !== 'number' ? shown : v.mozPaintedFrames;
          if (!base || base.source !== v.srcObject || total < base.total) base = { source: v.srcObject, total };
          last = {
            found: true,
            readyState: v.readyState,
            videoWidth: v.videoWidth,
            videoHeight: v.videoHeight,
            frames: total - base.total,
            totalVideoFrames: total,
            paused: v.paused,
            muted: v.muted,
          };
          if (last.frames >= frames) return { ok: true, ms: Date.now() - start, ...last };
        } else {
          last = v
            ? { found: true, readyState: v.readyState, videoWidth: v.videoWidth, paused: v.paused, hasSource: !!v.srcObject }
            : { found: false };
        }
        if (Date.now() - start >= within) return { ok: false, ms: Date.now() - start, ...last };
        await pause(100);
      }
    },
    { selector, frames, within },
  );
  if (!seen.ok) {
    throw new Error(
      `${user.label}: ${selector} did not show ${frames} new frames within ${within} ms ` +
        '(a frozen or missing picture); ' +
        `last seen ${JSON.stringify(seen)}`,
    );
  }
  return seen;
}

/**
 * The received audio of the page's open peer connections, one entry per
 * inbound-rtp audio report: key (connection and SSRC), the track, the ids of
 * the streams that hold it in a media element (received stream ids start
 * with the sender's participant id and "_"), energy, level, packets, and
 * whether every element playing it is muted.
 */
export function inboundAudio(user) {
  return user.page.evaluate(async () => {
    const holders = new Map();
    for (const el of document.querySelectorAll('audio, video')) {
      const s = el.srcObject;
      if (!s || typeof s.getAudioTracks !== 'function') continue;
      for (const t of s.getAudioTracks()) {
        const h = holders.get(t.id) ?? { streams: new Set(), muted: [] };
        h.streams.add(s.id);
        h.muted.push(el.muted);
        holders.set(t.id, h);
      }
    }
    const out = [];
    const pcs = window.__e2ePeerConnections || [];
    for (let i = 0; i < pcs.length; i++) {
      if (pcs[i].connectionState === 'closed') continue;
      (await pcs[i].getStats()).forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
        const h = holders.get(s.trackIdentifier);
        out.push({
          key: `${i}:${s.ssrc}`,
          track: s.trackIdentifier,
          streams: h ? [...h.streams] : [],
          elementsMuted: h ? h.muted.every(Boolean) : null,
          energy: s.totalAudioEnergy ?? 0,
          level: s.audioLevel ?? 0,
          packets: s.packetsReceived ?? 0,
        });
      });
    }
    return out;
  });
}

/** The entries of inboundAudio that come from a stream whose id starts with `from` (all when from is empty). */
function matching(entries, from) {
  return from ? entries.filter((e) => e.streams.some((id) => id.startsWith(from))) : entries;
}

const who = (user, from) => `${user.label}${from ? ` (audio of stream ${from}…)` : ''}`;

/**
 * Waits until the page hears sound: the totalAudioEnergy of one received
 * audio track (of a stream whose id starts with `from`, when given) grows by
 * `energy` or more within `within` ms of the call. Returns the growth and
 * the loudest audioLevel seen.
 */
export async function expectSound(user, { from = '', within = WAIT_MS, energy = SOUND_ENERGY } = {}) {
  const start = Date.now();
  const first = new Map();
  let loudest = 0;
  let last = [];
  for (;;) {
    last = matching(await inboundAudio(user), from);
    for (const e of last) {
      if (!first.has(e.key)) first.set(e.key, e.energy);
      loudest = Math.max(loudest, e.level);
      const grown = e.energy - first.get(e.key);
      if (grown >= energy) return { grown, loudest, ms: Date.now() - start, packets: e.packets };
    }
    if (Date.now() - start >= within) break;
    await sleep(200);
  }
  const grown = last.map((e) => ({ ...e, grown: e.energy - (first.get(e.key) ?? e.energy) }));
  throw new Error(
    `${who(user, from)}: heard nothing: received audio energy did not grow by ${energy} within ${within} ms ` +
      `(loudest audioLevel ${loudest}); last seen ${JSON.stringify(grown)}`,
  );
}

/**
 * Waits until the page hears silence: received audio (of a stream whose id
 * starts with `from`, when given) is there, and the totalAudioEnergy of every
 * such track grows by less than `energy` over `hold` ms, within `within` ms
 * of the call. Returns how long it took.
 */
export async function expectSilence(
  user,
  { from = '', within = WAIT_MS, hold = SILENCE_HOLD_MS, energy = SILENCE_ENERGY } = {},
) {
  const start = Date.now();
  const history = new Map(); // key → [{ t, energy }]
  let last = [];
  let report = null;
  for (;;) {
    const now = Date.now();
    last = matching(await inboundAudio(user), from);
    report = [];
    let quiet = last.length > 0;
    for (const e of last) {
      const h = history.get(e.key) ?? [];
      h.push({ t: now, energy: e.energy });
      history.set(e.key, h);
      // The newest sample at least `hold` ms old.
      const old = h.findLast((x) => x.t <= now - hold);
      const grown = old ? e.energy - old.energy : null;
      report.push({ key: e.key, streams: e.streams, level: e.level, packets: e.packets, grownOverHold: grown });
      if (grown === null || grown >= energy) quiet = false;
    }
    if (quiet) return { ms: now - start };
    if (now - start >= within) break;
    await sleep(200);
  }
  const why = last.length ? `received audio energy still grew by ${energy} or more in ${hold} ms` : 'no received audio';
  throw new Error(`${who(user, from)}: not silent: ${why} within ${within} ms; last seen ${JSON.stringify(report)}`);
}
