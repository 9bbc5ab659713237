// Simulcast: the streamer page sends its camera (1280x720 from Chromium's fake
// camera) as three layers; meetd forwards each viewer the layer that fits the
// view it reports. A viewer in a small window decodes the quarter layer, one
// at 1920x1080 the largest layer the streamer sends, and the small one
// switches up when its window grows. Quality Low and Medium cap the layer; a
// hidden tab receives no video until it is back. Prints the frame sizes over time.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectWatching, waitForStatus } from '../lib/checks.mjs';
import { e2e, sleep } from '../lib/harness.mjs';
import { expectFramesGrow } from '../lib/media.mjs';
import { inboundVideo, layersText, outboundVideo, waitForQuiet } from '../lib/stats.mjs';
import { waitUntil } from '../lib/wait.mjs';

const VIDEO = '[data-testid="remote-video"]';
const PREVIEW = '[data-testid="local-video"]';
const SMALL = { width: 320, height: 240 };
const LARGE = { width: 1920, height: 1080 };
/**
 * How long the streamer's Chromium may take to send a layer it is allowed to:
 * its bandwidth estimate ramps up on loopback first, at once on an idle
 * machine, in up to half a minute on a busy one (and again after a pause).
 */
const RAMP_MS = 60_000;

/** The view messages a page sends, as they go out. */
function recordViews(user) {
  const views = [];
  user.page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      const text = typeof f.payload === 'string' ? f.payload : f.payload.toString();
      if (text.includes('"view"')) views.push(JSON.parse(text));
    }),
  );
  return views;
}

const size = (v) => (v ? `${v.width}x${v.height}` : 'none');

test(
  'simulcast: a small viewer decodes the quarter layer, a large one the largest; growing, Quality and a hidden tab',
  e2e(async (w) => {
    const start = Date.now();
    const clock = () => `${((Date.now() - start) / 1000).toFixed(1).padStart(5)} s`;
    const log = (line) => console.log(`${clock()} ${line}`);

    const streamer = await w.user('streamer', '/');
    await expectFramesGrow(streamer, PREVIEW);
    await waitForStatus(streamer, 'Preview');
    const camera = await streamer.page.$eval(PREVIEW, (v) => ({ width: v.videoWidth, height: v.videoHeight }));
    log(`streamer camera ${size(camera)}`);
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live');

    const small = await w.user('viewer-small', undefined, { viewport: SMALL });
    const large = await w.user('viewer-large', undefined, { viewport: LARGE });
    const smallViews = recordViews(small);
    const largeViews = recordViews(large);
    await small.goto(w.server.url('/viewer'));
    await large.goto(w.server.url('/viewer'));
    for (const v of [small, large]) {
      await waitForStatus(v, 'Live');
      await expectWatching(v, VIDEO);
    }
    await w.screenshot(small, 'simulcast-small.png');
    const box = (u) => u.page.$eval(VIDEO, (v) => `${v.clientWidth}x${v.clientHeight} css px`);
    log(`stage video: small ${await box(small)}, large ${await box(large)}`);

    /** One line of what is sent and decoded; returns the numbers. */
    const sample = async () => {
      const layers = await outboundVideo(streamer);
      const [a] = await inboundVideo(small);
      const [b] = await inboundVideo(large);
      const sending = layers.filter((l) => l.fps > 0 && l.width > 0);
      const top = sending.reduce((m, l) => (l.width > m.width ? l : m), { width: 0, height: 0 });
      const quarter = layers.find((l) => l.rid === 'q');
      log(`sent ${layersText(layers)} | small decodes ${size(a)} | large decodes ${size(b)}`);
      return { layers, sending, top, quarter, a, b };
    };

    // Chromium ramps its bandwidth estimate up on loopback before it sends the top
    // layer: wait for the large viewer to decode the largest layer sent.
    let s = await sample();
    const deadline = Date.now() + RAMP_MS;
    while (Date.now() < deadline && !(s.top.width >= camera.width && s.b?.width === s.top.width)) {
      await sleep(1000);
      s = await sample();
    }
    assert.ok(s.layers.length >= 2, `the streamer should send several layers, got ${JSON.stringify(s.layers)}`);
    assert.ok(s.quarter && s.quarter.width > 0, `no quarter layer (rid q) is sent: ${JSON.stringify(s.layers)}`);
    if (s.top.width < camera.width) {
      log(`NOTE: the streamer's browser never sent its full ${size(camera)} layer; largest sent ${size(s.top)}`);
    }
    assert.ok(s.b, 'the large viewer has no inbound video');
    assert.equal(
      s.b.width,
      s.top.width,
      `the large viewer should decode the largest layer sent (${size(s.top)}), decodes ${size(s.b)}`,
    );
    assert.ok(s.a, 'the small viewer has no inbound video');
    assert.ok(
      s.a.width <= s.quarter.width && s.a.width <= 320,
      `the small viewer should decode at most the quarter layer (${size(s.quarter)}), decodes ${size(s.a)}`,
    );
    log(`views sent: small ${JSON.stringify(smallViews.at(-1))}, large ${JSON.stringify(largeViews.at(-1))}`);
    assert.ok(smallViews.length > 0 && largeViews.length > 0, 'both viewers should have sent view messages');

    // The small viewer's window grows to 1920x1080: it switches up to the largest layer.
    await small.page.setViewportSize(LARGE);
    log(`small viewer's window is now ${size(LARGE)}; stage video ${await box(small)}`);
    const grown = Date.now() + 15_000;
    s = await sample();
    while (Date.now() < grown && !(s.a && s.a.width >= s.top.width && s.a.width > s.quarter.width)) {
      await sleep(1000);
      s = await sample();
    }
    assert.ok(
      s.a.width > s.quarter.width && s.a.width === s.top.width,
      `after growing, the formerly small viewer should decode the largest layer sent (${size(s.top)}), decodes ${size(s.a)}`,
    );
    log(`views sent by the grown viewer: ${smallViews.map((v) => `${v.width}x${v.height}`).join(', ')}`);
    await expectFramesGrow(small, VIDEO);
    await w.screenshot(small, 'simulcast-grown.png');

    // The large viewer picks Quality: Low, then Auto again (remembered in the browser).
    const pick = async (value, ok, what) => {
      await large.page.getByLabel('Quality').selectOption(value);
      log(`large viewer chose Quality ${value}`);
      const until = Date.now() + 15_000;
      s = await sample();
      while (Date.now() < until && !(s.b && ok(s.b.width))) {
        await sleep(1000);
        s = await sample();
      }
      assert.ok(s.b && ok(s.b.width), `with Quality ${value} the large viewer should decode ${what}, decodes ${size(s.b)}`);
    };
    const half = s.layers.find((l) => l.rid === 'h');
    await pick('low', (width) => width === s.quarter.width, `the quarter layer (${size(s.quarter)})`);
    assert.equal(await large.page.evaluate(() => localStorage.getItem('meetd.quality')), 'low');
    if (half?.fps > 0) await pick('medium', (width) => width === half.width, `the half layer (${size(half)})`);
    await pick('auto', (width) => width === s.top.width, `the largest layer (${size(s.top)})`);
    log(`views sent by the large viewer: ${largeViews.map((v) => `${v.width}x${v.height} ${v.quality}`).join(', ')}`);

    // A hidden tab receives no video at all, and plays again when it is back. Headless
    // Chromium never hides a page, so the page is told it is hidden.
    const setHidden = (hidden) =>
      large.page.evaluate((hidden) => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
        document.dispatchEvent(new Event('visibilitychange'));
      }, hidden);
    await setHidden(true);
    await waitUntil('viewer-large: a 0x0 view sent once hidden', () => ({
      ok: size(largeViews.at(-1)) === '0x0',
      last: largeViews.at(-1),
    }));
    // What was on the way arrives; then no video comes: 2 s with less than 5000 bytes.
    const videoBytes = async () => (await inboundVideo(large))[0].bytes;
    const quiet = await waitForQuiet('a hidden tab receives no video: its video bytes', videoBytes, { below: 5000 });
    log(`hidden tab: ${quiet.grown} video bytes in 2 s`);
    // Visible again: the video plays again.
    await setHidden(false);
    const back = await expectFramesGrow(large, VIDEO);
    log(`visible again: ${back.frames} frames shown in ${back.ms} ms at ${back.videoWidth}x${back.videoHeight}`);
  }),
);

/** The `layers` messages a page receives, with when they came. */
function recordLayers(user) {
  const seen = [];
  user.page.on('websocket', (ws) =>
    ws.on('framereceived', (f) => {
      const text = typeof f.payload === 'string' ? f.payload : f.payload.toString();
      if (text.includes('"layers"')) seen.push({ t: Date.now(), ...JSON.parse(text) });
    }),
  );
  return seen;
}

/** Waits until cond(seen) holds; returns the time it did, or fails with what was seen. */
async function waitFor(what, seen, cond, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond(seen)) return Date.now();
    await sleep(100);
  }
  throw new Error(`no ${what} within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`);
}

test(
  'simulcast: the streamer stops sending the layers nobody watches, and sends them again when someone does',
  e2e(async (w) => {
    const start = Date.now();
    const log = (line) => console.log(`${((Date.now() - start) / 1000).toFixed(1).padStart(5)} s ${line}`);
    const streamer = await w.user('streamer');
    const layers = recordLayers(streamer);
    await streamer.goto(w.server.url('/'));
    await expectFramesGrow(streamer, PREVIEW);
    const full = async () => (await outboundVideo(streamer)).find((l) => l.rid === 'f');

    // A viewer in a small window and one in a large window wait for the
    // broadcast, so that from its first moment one needs the quarter layer
    // and the other the largest there is: meetd pauses nothing until the full
    // layer comes and the large viewer takes it.
    const small = await w.user('viewer-small', '/viewer', { viewport: SMALL });
    const large = await w.user('viewer-large', '/viewer', { viewport: LARGE });
    for (const v of [small, large]) await waitForStatus(v, 'Waiting for the stream to start…');
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live');
    for (const v of [small, large]) await waitForStatus(v, 'Live');
    await Promise.all([small, large].map((v) => expectFramesGrow(v, VIDEO)));

    // Chromium sends the full layer once its bandwidth estimate allows.
    const sending = await waitUntil(
      'streamer: sending its full layer (rid f), and the large viewer decoding it',
      async () => {
        const f = await full();
        const [b] = await inboundVideo(large);
        return { ok: f?.active !== false && f?.width >= 1280 && b?.width === f.width, f, large: b };
      },
      { within: RAMP_MS, every: 500 },
    );
    log(`full layer sent and decoded: ${JSON.stringify(sending.f)}, large viewer decodes ${size(sending.large)}`);

    // The large viewer leaves; the small one takes the quarter layer: after
    // meetd's 3 s the full layer is paused, and the streamer's browser stops
    // sending it.
    await large.page.goto('about:blank');
    await waitFor('layers without f', layers, (s) => s.length > 0 && !s.at(-1).active.includes('f'));
    log(`streamer told ${JSON.stringify(layers.at(-1))}`);
    await waitUntil('streamer: its full layer reported inactive', async () => {
      const f = await full();
      return { ok: f.active === false, ...f };
    });
    // What was on the way goes; then the full layer sends nothing: 2 s with less than 1000 bytes.
    const fullBytes = async () => (await full()).bytes;
    const quiet = await waitForQuiet('the paused full layer still sends: its bytes', fullBytes, { below: 1000 });
    log(`full layer while paused: ${quiet.grown} bytes in 2 s, ${JSON.stringify(await full())}`);
    await expectFramesGrow(small, VIDEO);

    // A viewer in a large window joins: meetd wants the full layer again, and it comes.
    const again = await w.user('viewer-large-again', '/viewer', { viewport: LARGE });
    const joined = Date.now();
    await waitFor('layers with f', layers, (s) => s.at(-1).active.includes('f'));
    log(`streamer told ${JSON.stringify(layers.at(-1))} ${layers.at(-1).t - joined} ms after the large viewer came`);
    const resumed = await full();
    // The browser marks it active at once, and sends it once its bandwidth estimate allows.
    await waitUntil('streamer: the full layer reported active again', async () => {
      const f = await full();
      return { ok: f.active === true, ...f };
    });
    const now = await waitUntil(
      'streamer: the full layer sending again, 20 000 bytes',
      async () => {
        const f = await full();
        return { ok: f.active && f.bytes - resumed.bytes > 20_000, ...f };
      },
      { within: RAMP_MS, every: 500 },
    );
    log(`full layer resumed: ${JSON.stringify(resumed)} → ${JSON.stringify(now)}`);
    await waitForStatus(again, 'Live');
    await expectFramesGrow(again, VIDEO);
  }),
);
