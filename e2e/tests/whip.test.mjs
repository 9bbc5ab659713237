// WHIP and WHEP: a WHIP publisher (cmd/whipsend, a pion client sending a
// real VP8/Opus clip) plays and is heard on /viewer, and a broadcast from /
// plays and is heard in a plain WHEP player page, whose session ends when the
// broadcast does.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LIVE, PREVIEW, setMicrophone, unmute, VIDEO } from '../lib/broadcast.mjs';
import { expectWatching, waitForStatus } from '../lib/checks.mjs';
import { e2e } from '../lib/harness.mjs';
import { expectFramesGrow, expectSilence, expectSound } from '../lib/media.mjs';
import { waitUntil } from '../lib/wait.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, '../..');

/** bin/whipsend ($WHIPSEND_BIN), built with go when it is missing. */
function whipsendBinary() {
  const bin = process.env.WHIPSEND_BIN || path.join(top, 'bin/whipsend');
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    execFileSync('go', ['build', '-o', bin, './cmd/whipsend'], { cwd: top, stdio: 'inherit' });
  }
  return bin;
}

/** Runs whipsend against url until stopped; resolves once it publishes. */
async function startWhipsend(url) {
  const proc = spawn(whipsendBinary(), ['-url', url, '-loopback'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const started = new Promise((resolve, reject) => {
    const take = (chunk) => {
      out += chunk.toString();
      if (out.includes('connection: connected')) resolve();
    };
    proc.stdout.on('data', take);
    proc.stderr.on('data', take);
    proc.on('exit', (code) => reject(new Error(`whipsend exited (${code}) before it published:\n${out}`)));
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  await Promise.race([
    started,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`whipsend did not connect:\n${out}`)), 15_000)),
  ]);
  return {
    output: () => out,
    async stop() {
      clearTimeout(timer);
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.on('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

test(
  'a WHIP publisher plays and is heard on /viewer',
  e2e(async (w) => {
    const viewer = await w.user('viewer', '/viewer');
    await waitForStatus(viewer, 'Waiting for the stream to start…');
    const pub = await startWhipsend(w.server.url('/whip/default'));
    try {
      await waitForStatus(viewer, LIVE);
      await expectWatching(viewer, VIDEO);
      // The clip's sound is heard once the viewer unmutes.
      await unmute(viewer);
      await expectSound(viewer);
      // Shown, not hidden behind "camera is off": meetd says the stream has video.
      assert.equal(await viewer.page.locator(VIDEO).isVisible(), true, 'the video is not shown');
      await w.screenshot(viewer, 'whip-viewer.png');
    } catch (err) {
      console.error(`--- whipsend output:\n${pub.output()}`);
      throw err;
    } finally {
      await pub.stop();
    }
    // DELETE on exit ends the broadcast.
    await waitForStatus(viewer, 'The stream has ended.');
  }),
);

// A WHEP player as any web page would write it: a receive-only offer with
// every candidate, POSTed as application/sdp, the answer applied; muted until
// its Unmute button is clicked. It keeps its connection's states in
// window.whepStates, and probe() asks meetd whether its session still exists
// (an empty trickle PATCH: 204 while it does, 404 once it ended) without
// ending it.
const WHEP_PLAYER = `<!doctype html>
<meta charset="utf-8"><title>WHEP player</title>
<video id="player" autoplay playsinline muted></video>
<button id="unmute" type="button">Unmute</button>
<p id="state">starting</p>
<script>
window.whepStates = [];
window.probe = async () =>
  (await fetch(window.whepLocation, { method: 'PATCH', headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' }, body: '' })).status;
document.getElementById('unmute').onclick = () => { document.getElementById('player').muted = false; };
(async () => {
  const state = (s) => { document.getElementById('state').textContent = s; console.log('whep:', s); };
  try {
    const pc = new RTCPeerConnection();
    window.whepPc = pc;
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    const stream = new MediaStream();
    pc.ontrack = (e) => {
      stream.addTrack(e.track);
      document.getElementById('player').srcObject = stream;
    };
    pc.onconnectionstatechange = () => {
      window.whepStates.push({ t: Date.now(), state: pc.connectionState });
      state(pc.connectionState);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    });
    const res = await fetch('/whep/default', {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription.sdp,
    });
    if (res.status !== 201) throw new Error(res.status + ' ' + (await res.text()));
    window.whepLocation = res.headers.get('Location');
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    state('answered');
  } catch (e) {
    state('error: ' + e.message);
  }
})();
</script>`;

test(
  'a broadcast from / plays and is heard in a WHEP player, and its end ends the player\'s session',
  e2e(async (w) => {
    const streamer = await w.user('streamer', '/');
    await expectFramesGrow(streamer, PREVIEW);
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, LIVE);

    const player = await w.user('whep-player');
    const url = w.server.url('/whep-player.html');
    await player.page.route(url, (route) => route.fulfill({ contentType: 'text/html', body: WHEP_PLAYER }));
    await player.goto(url);
    await expectFramesGrow(player, '#player');
    await w.screenshot(player, 'whep-player.png');

    // Muted it plays no sound; unmuted, the streamer's microphone is heard,
    // until the streamer turns it off, and again when it is back on.
    await expectSilence(player);
    await player.page.getByRole('button', { name: 'Unmute' }).click();
    await expectSound(player);
    await setMicrophone(streamer, false);
    await expectSilence(player);
    await setMicrophone(streamer, true);
    await expectSound(player);

    // While the broadcast lasts, the session exists.
    const probe = () => player.page.evaluate(() => window.probe());
    assert.equal(await probe(), 204, 'the live WHEP session should answer an empty PATCH with 204');

    // The broadcast stops and nobody DELETEs the session: meetd ends it, so the
    // player's connection ends and the session's URL is gone.
    const stopped = Date.now();
    await streamer.page.getByRole('button', { name: 'Stop' }).click();
    const ended = await waitUntil(
      "whep-player: its connection ended (closed, failed or disconnected) and its session's URL gone (404)",
      async () => {
        const state = await player.page.evaluate(() => window.whepPc.connectionState);
        const status = await probe();
        return { ok: ['closed', 'failed', 'disconnected'].includes(state) && status === 404, state, status };
      },
      { within: 20_000, every: 250 },
    );
    const states = await player.page.evaluate(() => window.whepStates);
    console.log(
      `WHEP session ended by the broadcast's end: ${ended.state}, ${ended.status}; states ` +
        states.map((s) => `${s.t - stopped >= 0 ? '+' : ''}${s.t - stopped} ms ${s.state}`).join(' → '),
    );
  }),
);
