// meetd restarts under a live broadcast: first killed hard (SIGKILL, no
// goodbye), then stopped gracefully (SIGTERM, it says `shutting_down`). Each
// time it comes back on the same port at once, and without a reload the
// streamer is Live again and the viewer plays again within 10 s, and is
// heard again.
//
// Each page gets a small in-page recorder that samples its status line (and
// on the viewer, the video element's frame count) every 25 ms, so the test
// can tell when "Reconnecting…" showed, that no error showed, and when each
// page recovered.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goLive, LIVE, RECONNECTING, unmute, VIDEO } from '../lib/broadcast.mjs';
import { expectAudioTrack, waitForStatus } from '../lib/checks.mjs';
import { e2e, sleep } from '../lib/harness.mjs';
import { expectFramesGrow, expectSound, FRAMES } from '../lib/media.mjs';

/** The requirement: playing again within this long of meetd being back. */
const RECOVERY_MS = 10_000;
/** How long to keep watching past that, so a slow recovery is measured rather than just failed. */
const GIVE_UP_MS = 16_000;

/**
 * Counts what a page goes through that the recorder cannot see: navigations
 * of its main frame, and `shutting_down` errors meetd sends it.
 */
function watchFrames(user) {
  const seen = { navigations: 0, shuttingDown: 0 };
  user.page.on('framenavigated', (f) => {
    if (f === user.page.mainFrame()) seen.navigations++;
  });
  user.page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload === 'string' && payload.includes('"shutting_down"')) seen.shuttingDown++;
    });
  });
  return seen;
}

/**
 * Starts (or restarts) the page's recorder. On a page with a video selector it
 * also notes the first moment a *new* stream (not the one playing now) shows a
 * frame, and the moment it has shown FRAMES more.
 */
async function record(user, videoSelector = null) {
  await user.page.evaluate(({ videoSelector, FRAMES }) => {
    if (window.__restartRec) clearInterval(window.__restartRec.timer);
    const v0 = videoSelector ? document.querySelector(videoSelector) : null;
    const rec = {
      events: [],
      notices: [],
      before: v0 ? v0.srcObject : null,
      firstFrame: null,
      playing: null,
      timer: 0,
    };
    let lastStatus;
    let lastNotice;
    const tick = () => {
      const now = Date.now();
      const el = document.querySelector('[data-testid="status"]');
      const status = el ? el.textContent.trim() : null;
      if (status !== lastStatus) {
        rec.events.push({ t: now, status });
        lastStatus = status;
      }
      const notice = [...document.querySelectorAll('.notice')].map((n) => n.innerText.replace(/\s+/g, ' ').trim()).join(' | ');
      if (notice !== lastNotice) {
        if (notice) rec.notices.push({ t: now, notice });
        lastNotice = notice;
      }
      if (!videoSelector || rec.playing) return;
      const v = document.querySelector(videoSelector);
      const fresh = v && v.srcObject && v.srcObject !== rec.before;
      if (fresh && v.readyState >= 2 && v.videoWidth > 0) {
        const frames = v.getVideoPlaybackQuality().totalVideoFrames;
        if (!rec.firstFrame || rec.firstFrame.src !== v.srcObject || frames < rec.firstFrame.frames) {
          rec.firstFrame = { t: now, src: v.srcObject, frames };
        } else if (frames >= rec.firstFrame.frames + FRAMES) {
          const shown = frames - rec.firstFrame.frames;
          rec.playing = { t: now, frames: shown, videoWidth: v.videoWidth, videoHeight: v.videoHeight };
        }
      }
    };
    tick();
    rec.timer = setInterval(tick, 25);
    window.__restartRec = rec;
  }, { videoSelector, FRAMES });
}

/** What the recorder saw so far (null if the page lost it, e.g. by navigating). */
function recorded(user) {
  return user.page
    .evaluate(() => {
      const r = window.__restartRec;
      if (!r) return null;
      return {
        events: r.events,
        notices: r.notices,
        firstFrame: r.firstFrame && { t: r.firstFrame.t, frames: r.firstFrame.frames },
        playing: r.playing,
      };
    })
    .catch(() => null);
}

/** A status timeline relative to t0, for messages: "+0.012s Reconnecting… → +1.450s Live". */
function timeline(rec, t0) {
  if (!rec) return '(no recorder on the page)';
  return rec.events.map((e) => `${fmt(e.t - t0)} ${JSON.stringify(e.status)}`).join(' → ');
}

const fmt = (ms) => `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(3)}s`;

/** The first time after a Reconnecting… that the status reads Live again, or null. */
function liveAgainAt(rec) {
  if (!rec) return null;
  const i = rec.events.findIndex((e) => e.status === RECONNECTING);
  if (i < 0) return null;
  const e = rec.events.slice(i + 1).find((x) => x.status === LIVE);
  return e ? e.t : null;
}

/** Both pages stay marked (so no reload happened), and their main frames never navigated. */
async function expectNoReload(users, frames, when) {
  for (const u of users) {
    const marker = await u.page.evaluate(() => window.__marker).catch(() => undefined);
    assert.equal(marker, 1, `${u.label}: window.__marker is gone ${when}: the page was reloaded`);
    assert.equal(frames.get(u).navigations, 1, `${u.label}: the page navigated again ${when}`);
  }
}

/**
 * One restart: `down()` takes meetd away, then it is started again on the
 * same port at once. Waits for both pages to recover, checks what they showed,
 * prints the timings and returns them.
 */
async function restartAndRecover(w, { what, down, streamer, viewer }) {
  await record(streamer);
  await record(viewer, VIDEO);

  const downStart = Date.now();
  await down();
  const downAt = Date.now();
  await w.restartServer();
  const backAt = Date.now();

  // Wait for both pages to be live again, a while past the 10 s so a slow
  // recovery is measured, not just reported as missing.
  let s = null;
  let v = null;
  while (Date.now() < backAt + GIVE_UP_MS) {
    [s, v] = await Promise.all([recorded(streamer), recorded(viewer)]);
    if (!s || !v) break;
    if (liveAgainAt(s) && liveAgainAt(v) && v.playing) break;
    await sleep(100);
  }
  const where =
    `${what}: meetd down ${fmt(downAt - downStart)} after the signal, back (answering /healthz) ${fmt(backAt - downStart)}.\n` +
    `  streamer: ${timeline(s, downStart)}\n` +
    `  viewer:   ${timeline(v, downStart)}\n` +
    `  streamer notices: ${JSON.stringify(s?.notices.map((n) => `${fmt(n.t - downStart)} ${n.notice}`))}\n` +
    `  viewer notices: ${JSON.stringify(v?.notices.map((n) => `${fmt(n.t - downStart)} ${n.notice}`))}\n` +
    `  viewer new video: first frame ${v?.firstFrame ? fmt(v.firstFrame.t - downStart) : 'never'}, ` +
    `${FRAMES} frames shown ${v?.playing ? `${fmt(v.playing.t - downStart)} ${JSON.stringify(v.playing)}` : 'never'}`;
  console.log(where);
  assert.ok(s && v, `${what}: a page lost its recorder (was it reloaded?)\n${where}`);

  // Both said Reconnecting… while meetd was gone, and never showed an error.
  for (const [u, r] of [
    [streamer, s],
    [viewer, v],
  ]) {
    assert.ok(
      r.events.some((e) => e.status === RECONNECTING && e.t <= backAt + 50),
      `${u.label}: never showed ${RECONNECTING} while meetd was down\n${where}`,
    );
    const bad = r.events.find((e) => /^Error/.test(e.status ?? '') || e.status === 'Preview');
    assert.equal(bad, undefined, `${u.label}: showed ${JSON.stringify(bad?.status)} during the restart\n${where}`);
  }

  const streamerLive = liveAgainAt(s);
  const viewerLive = liveAgainAt(v);
  assert.ok(streamerLive, `streamer: not Live again within ${GIVE_UP_MS} ms of meetd being back\n${where}`);
  assert.ok(viewerLive, `viewer: status not Live again within ${GIVE_UP_MS} ms of meetd being back\n${where}`);
  assert.ok(v.playing, `viewer: no new video playing within ${GIVE_UP_MS} ms of meetd being back\n${where}`);

  const timings = {
    what,
    streamerLiveMs: streamerLive - backAt,
    viewerLiveMs: viewerLive - backAt,
    viewerPlayingMs: v.playing.t - backAt,
  };
  const viewerMs = Math.max(timings.viewerLiveMs, timings.viewerPlayingMs);
  console.log(
    `${what}: recovered after meetd was back: streamer Live in ${timings.streamerLiveMs} ms; ` +
      `viewer Live in ${timings.viewerLiveMs} ms, new video showing ${FRAMES} frames in ${timings.viewerPlayingMs} ms ` +
      `(from the signal: streamer ${streamerLive - downStart} ms, viewer ${Math.max(viewerLive, v.playing.t) - downStart} ms)`,
  );
  assert.ok(
    timings.streamerLiveMs <= RECOVERY_MS,
    `streamer: Live again only ${timings.streamerLiveMs} ms after meetd was back (limit ${RECOVERY_MS})\n${where}`,
  );
  assert.ok(
    viewerMs <= RECOVERY_MS,
    `viewer: playing again only ${viewerMs} ms after meetd was back (limit ${RECOVERY_MS})\n${where}`,
  );

  // The harness's own checks agree: the streamer is still Live, the viewer
  // plays, and (unmuted before the restart, and still) hears the streamer.
  await waitForStatus(streamer, LIVE);
  await waitForStatus(viewer, LIVE);
  const seen = await expectFramesGrow(viewer, VIDEO);
  assert.ok(seen.videoWidth > 0, `viewer: videoWidth ${seen.videoWidth}`);
  await expectAudioTrack(viewer, VIDEO);
  const heard = await expectSound(viewer);
  console.log(`${what}: the viewer hears the streamer again (energy +${heard.grown.toFixed(3)} in ${heard.ms} ms of looking)`);
  return timings;
}

test(
  'meetd killed and restarted, then restarted gracefully, under a live broadcast: the viewer plays again within 10 s without a reload',
  e2e(async (w) => {
    const streamer = await w.user('streamer');
    const viewer = await w.user('viewer');
    const frames = new Map([
      [streamer, watchFrames(streamer)],
      [viewer, watchFrames(viewer)],
    ]);
    await goLive(w, streamer, viewer);
    await unmute(viewer);
    await expectSound(viewer);

    // 1. A crash: SIGKILL, so meetd says nothing; a new one starts on the same port.
    const killed = w.server;
    await restartAndRecover(w, {
      what: 'SIGKILL',
      streamer,
      viewer,
      down: async () => {
        await killed.kill();
        assert.equal(killed.exit.signal, 'SIGKILL');
      },
    });
    for (const u of [streamer, viewer]) {
      assert.equal(frames.get(u).shuttingDown, 0, `${u.label}: got shutting_down from a killed meetd`);
    }
    await expectNoReload([streamer, viewer], frames, 'after the SIGKILL restart');

    // 2. A graceful restart: SIGTERM; meetd tells every page it is shutting down.
    const stopped = w.server;
    await restartAndRecover(w, {
      what: 'SIGTERM',
      streamer,
      viewer,
      down: async () => {
        await stopped.stop();
        assert.deepEqual(stopped.exit, { code: 0, signal: null }, 'meetd did not exit cleanly on SIGTERM');
      },
    });
    for (const u of [streamer, viewer]) {
      assert.equal(frames.get(u).shuttingDown, 1, `${u.label}: expected one shutting_down message from meetd`);
    }
    await expectNoReload([streamer, viewer], frames, 'after the SIGTERM restart');
  }),
);
