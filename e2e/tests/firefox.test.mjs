// Firefox in every role, against Chromium in the other: a Firefox viewer of a
// Chromium streamer, a Chromium viewer of a Firefox streamer (and its
// simulcast layers), and a meeting of one of each that also shares a screen
// from Firefox. Firefox is Debian's firefox-esr driven over WebDriver BiDi
// (lib/firefox.mjs), with its default autoplay policy. Without Firefox the
// tests are skipped, saying why; under CI they fail.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { goLive, PREVIEW, unmute, VIDEO } from '../lib/broadcast.mjs';
import { waitForStatus } from '../lib/checks.mjs';
import { firefoxNeeded, firefoxUser } from '../lib/firefox.mjs';
import { e2e, sleep, step } from '../lib/harness.mjs';
import { expectFramesGrow, expectSound } from '../lib/media.mjs';
import { inboundVideo, layersText, outboundVideo } from '../lib/stats.mjs';
import { waitUntil } from '../lib/wait.mjs';

const firefox = firefoxNeeded();


test(
  'a Firefox viewer of a Chromium streamer plays it and, unmuted, hears it',
  firefox.options,
  e2e(async (w) => {
    firefox.check();
    const streamer = await w.user('streamer');
    const viewer = await firefoxUser(w, 'viewer');
    await goLive(w, streamer, viewer);
    // Firefox's autoplay policy lets the muted video play; the click on
    // Unmute is what lets its sound play too: the video must go on.
    await unmute(viewer);
    await expectFramesGrow(viewer, VIDEO);
    assert.equal(await viewer.page.$eval(VIDEO, (v) => v.paused), false, 'the unmuted video was paused');
    await expectSound(viewer);
  }),
);

test(
  'a Chromium viewer of a Firefox streamer plays it and, unmuted, hears it',
  firefox.options,
  e2e(async (w) => {
    firefox.check();
    const streamer = await firefoxUser(w, 'streamer');
    const viewer = await w.user('viewer');
    await goLive(w, streamer, viewer);
    await unmute(viewer);
    await expectSound(viewer);
    await expectFramesGrow(viewer, VIDEO);
  }),
);

/**
 * How long Firefox may take to send its top layer: its bandwidth estimate
 * ramps up on loopback, at once on an idle machine, in up to half a minute
 * on a busy one.
 */
const RAMP_MS = 60_000;
const size = (v) => (v ? `${v.width}x${v.height}` : 'none');

// Runs in the streamer's page before its own scripts: the camera's full
// layer ('f') starts off, as when Firefox, ramping its bandwidth estimate up
// on a busy machine, has not started it yet when meetd first says which
// layers it wants. meetd must not leave it paused: its layers message turns
// it on (the page keeps every layer meetd does not name as paused).
function startFullLayerLate() {
  const add = RTCPeerConnection.prototype.addTransceiver;
  RTCPeerConnection.prototype.addTransceiver = function addTransceiver(track, init) {
    const late = init?.sendEncodings?.find((e) => e.rid === 'f');
    if (late) late.active = false;
    return add.call(this, track, init);
  };
}

test(
  'a Firefox streamer sends simulcast: a large Chromium viewer gets its largest layer, a small one the quarter',
  firefox.options,
  e2e(async (w) => {
    firefox.check();
    const start = Date.now();
    const log = (line) => console.log(`${((Date.now() - start) / 1000).toFixed(1).padStart(5)} s ${line}`);
    const streamer = await firefoxUser(w, 'streamer');
    await streamer.addInitScript(startFullLayerLate);
    await streamer.goto(w.server.url('/'));
    await expectFramesGrow(streamer, PREVIEW);
    await waitForStatus(streamer, 'Preview');
    const camera = await streamer.page.$eval(PREVIEW, (v) => ({ width: v.videoWidth, height: v.videoHeight }));
    log(`Firefox camera ${size(camera)}`);
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live');

    /** The camera's encodings as Firefox has them: rid and active (meetd's layers message sets it). */
    const encodings = () =>
      streamer.page.evaluate(() =>
        (window.__e2ePeerConnections || [])
          .filter((pc) => pc.connectionState !== 'closed')
          .flatMap((pc) => pc.getSenders())
          .filter((s) => s.track?.kind === 'video')
          .flatMap((s) => s.getParameters().encodings.map((e) => ({ rid: e.rid, active: e.active !== false }))),
      );
    // The large viewer comes first. meetd's layers messages (the first
    // 3 s in) name the full layer, which has not come, as wanted: the page
    // turns it on, and Firefox, ramping its bandwidth estimate up, sends
    // it later. (The quarter layer keeps coming while anyone watches.)
    const large = await w.user('viewer-large', '/viewer', { viewport: { width: 1920, height: 1080 } });
    await waitForStatus(large, 'Live');
    await expectFramesGrow(large, VIDEO);
    const first = await waitUntil('meetd to ask for the full layer the streamer started without', async () => {
      const enc = await encodings();
      return { ok: enc.some((e) => e.rid === 'f' && e.active), enc, sent: layersText(await outboundVideo(streamer)) };
    });
    log(`full layer asked for: ${JSON.stringify(first.enc)}; Firefox sent ${first.sent}`);
    const small = await w.user('viewer-small', '/viewer', { viewport: { width: 320, height: 240 } });
    await waitForStatus(small, 'Live');
    await expectFramesGrow(small, VIDEO);

    const sample = async () => {
      const layers = await outboundVideo(streamer);
      const sending = layers.filter((l) => l.fps > 0 && l.width > 0);
      const top = sending.reduce((m, l) => (l.width > m.width ? l : m), { width: 0, height: 0 });
      const quarter = layers.find((l) => l.rid === 'q');
      const [a] = await inboundVideo(small);
      const [b] = await inboundVideo(large);
      const enc = await encodings();
      log(
        `Firefox sends ${layersText(layers)}, paused ${JSON.stringify(enc.filter((e) => !e.active).map((e) => e.rid))}` +
          ` | small decodes ${size(a)} | large decodes ${size(b)}`,
      );
      return { layers, top, quarter, a, b, enc };
    };
    // Firefox ramps its bandwidth estimate up before it sends its upper
    // layers (and may not send the full one at all on a busy machine):
    // wait until the large viewer decodes the largest layer sent, and that
    // is more than the quarter one, and the small one the quarter again.
    const done = (s) =>
      s.a && s.b && s.quarter && s.b.width === s.top.width && s.top.width > s.quarter.width && s.a.width <= s.quarter.width;
    let s = await sample();
    const deadline = Date.now() + RAMP_MS;
    while (Date.now() < deadline && !(done(s) && s.top.width >= camera.width)) {
      await sleep(1000);
      s = await sample();
    }
    assert.deepEqual(
      s.enc.map((e) => e.rid),
      ['q', 'h', 'f'],
      'the camera goes out as three encodings, smallest first',
    );
    // The bug this guards against: a layer Firefox started late was paused
    // by meetd's first layers message and never asked for again.
    assert.ok(
      s.enc.find((e) => e.rid === 'f').active,
      `the full layer is paused while a 1920×1080 viewer watches: ${JSON.stringify(s.enc)}`,
    );
    if (s.top.width < camera.width) {
      log(`NOTE: Firefox never sent its full ${size(camera)} layer; largest sent ${size(s.top)}`);
    }
    assert.ok(done(s), `the large viewer should decode the largest layer sent (${size(s.top)}), decodes ${size(s.b)}`);
    assert.ok(s.a && s.a.width <= s.quarter.width, `the small viewer should decode the quarter layer (${size(s.quarter)}), decodes ${size(s.a)}`);
    await w.screenshot(large, 'firefox-simulcast-large.png');
  }),
);

// Runs in every page before its own scripts: getDisplayMedia returns an
// animated 1280×720 canvas. Headless Firefox has no screen to capture (its
// getDisplayMedia fails with NotFoundError, and its fake devices are
// cameras and microphones only), so this stands in for the picker's choice.
function fakeScreenShare() {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  devices.getDisplayMedia = async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 1280;
    canvas.height = 720;
    const g = canvas.getContext('2d');
    let frame = 0;
    const draw = () => {
      frame++;
      g.fillStyle = '#f4f6fb';
      g.fillRect(0, 0, 1280, 720);
      g.fillStyle = '#e8710a';
      g.fillRect(640 + Math.round(260 * Math.sin(frame / 10)), 300, 200, 160);
      g.fillStyle = '#202124';
      g.font = '40px sans-serif';
      g.fillText(`SCREEN frame ${frame}`, 48, 100);
    };
    draw();
    const stream = canvas.captureStream(15);
    const track = stream.getVideoTracks()[0];
    const timer = setInterval(() => (track.readyState === 'ended' ? clearInterval(timer) : draw()), 1000 / 15);
    return stream;
  };
}

const tileOf = (name) => `figure[data-testid="tile"][aria-label="${name}"]`;
const screenTileOf = (name) => `figure[data-testid="screen-tile"][aria-label="${name} (screen)"]`;

test(
  'a meeting of Chromium and Firefox: each sees and hears the other; Firefox shares a screen',
  firefox.options,
  e2e(async (w) => {
    firefox.check();
    const room = `e2e-${randomBytes(4).toString('hex')}`;
    const ana = await w.user('Ana');
    const fox = await firefoxUser(w, 'Fox');
    await fox.addInitScript(fakeScreenShare);
    const people = [
      [ana, 'Ana'],
      [fox, 'Fox'],
    ];
    for (const [u] of people) await u.goto(w.server.url(`/meet/${room}`));

    await step('pre-join: the preview plays, the device pickers show the devices in use', async () => {
      for (const [u] of people) {
        await expectFramesGrow(u, '[data-testid="local-video"]');
        // Firefox lists devices with their ids and labels only once the
        // page may use them: the pickers must list them after permission,
        // with the ones in use chosen (not "Choose…").
        const pickers = await waitUntil(`${u.label}: camera and microphone pickers filled`, async () => {
          const got = await u.page.evaluate(() =>
            [...document.querySelectorAll('.field select')].map((s) => ({
              label: s.labels?.[0]?.textContent?.trim() ?? '',
              disabled: s.disabled,
              value: s.value,
              options: [...s.options].map((o) => o.textContent),
            })),
          );
          const ok = ['Camera', 'Microphone'].every((l) =>
            got.some((p) => p.label === l && !p.disabled && p.value !== '' && p.options.length > 0),
          );
          return { ok, got };
        });
        console.log(`${u.label}: ${JSON.stringify(pickers.got)}`);
      }
    });
    await step('both join', async () => {
      for (const [u, name] of people) {
        await u.page.getByLabel('Your name').fill(name);
        await u.page.getByRole('button', { name: 'Join now' }).click();
        await waitForStatus(u, 'In call');
      }
    });
    const streamsFrom = async (u, name) => {
      const id = await u.page.getAttribute(tileOf(name), 'data-participant');
      assert.ok(id, `${u.label}: ${name}'s tile has no participant id`);
      return `${id}_`;
    };
    await step('each sees and hears the other', async () => {
      await Promise.all([expectFramesGrow(ana, `${tileOf('Fox')} video`), expectFramesGrow(fox, `${tileOf('Ana')} video`)]);
      await Promise.all([
        expectSound(ana, { from: await streamsFrom(ana, 'Fox') }),
        expectSound(fox, { from: await streamsFrom(fox, 'Ana') }),
      ]);
    });
    await step('Fox shares a screen; Ana sees it, and both cameras play on', async () => {
      await fox.page.getByRole('button', { name: 'Share screen', exact: true }).click();
      await waitUntil('Fox: "Share screen" pressed', async () => ({
        ok: (await fox.page.getByRole('button', { name: 'Share screen', exact: true }).getAttribute('aria-pressed')) === 'true',
      }));
      const seen = await expectFramesGrow(ana, `${screenTileOf('Fox')} video`, { within: 20_000 });
      assert.ok(seen.videoWidth / seen.videoHeight > 1.6, `Ana: the screen tile plays ${seen.videoWidth}×${seen.videoHeight}, not the 16:9 screen`);
      await Promise.all([expectFramesGrow(ana, `${tileOf('Fox')} video`), expectFramesGrow(fox, `${tileOf('Ana')} video`)]);
      await w.screenshot(ana, 'firefox-meeting.png');
    });
  }),
);
