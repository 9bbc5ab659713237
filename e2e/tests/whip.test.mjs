// WHIP and WHEP: a WHIP publisher (cmd/whipsend, a pion client sending a
// real VP8 clip) plays on /viewer, and a broadcast from / plays in a plain
// WHEP player page.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { expectWatching, waitForStatus } from '../lib/checks.mjs';
import { e2e } from '../lib/harness.mjs';
import { expectFramesGrow } from '../lib/media.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, '../..');
const VIDEO = '[data-testid="remote-video"]';

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
  'a WHIP publisher plays on /viewer',
  e2e(async (w) => {
    const viewer = await w.user('viewer', '/viewer');
    await waitForStatus(viewer, 'Waiting for the stream to start…');
    const pub = await startWhipsend(w.server.url('/whip/default'));
    try {
      await waitForStatus(viewer, 'Live');
      await expectWatching(viewer, VIDEO);
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
// every candidate, POSTed as application/sdp, the answer applied.
const WHEP_PLAYER = `<!doctype html>
<meta charset="utf-8"><title>WHEP player</title>
<video id="player" autoplay playsinline muted></video>
<p id="state">starting</p>
<script>
(async () => {
  const state = (s) => { document.getElementById('state').textContent = s; console.log('whep:', s); };
  try {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    const stream = new MediaStream();
    pc.ontrack = (e) => {
      stream.addTrack(e.track);
      document.getElementById('player').srcObject = stream;
    };
    pc.onconnectionstatechange = () => state(pc.connectionState);
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
  'a broadcast from / plays in a WHEP player',
  e2e(async (w) => {
    const streamer = await w.user('streamer', '/');
    await expectFramesGrow(streamer, '[data-testid="local-video"]');
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live');

    const player = await w.user('whep-player');
    const url = w.server.url('/whep-player.html');
    await player.page.route(url, (route) => route.fulfill({ contentType: 'text/html', body: WHEP_PLAYER }));
    await player.goto(url);
    await expectFramesGrow(player, '#player');
    await w.screenshot(player, 'whep-player.png');

    // The broadcast stops: the session ends, and its URL is gone.
    await streamer.page.getByRole('button', { name: 'Stop' }).click();
    await player.page.waitForFunction(
      async () => (await fetch(window.whepLocation, { method: 'DELETE' })).status === 404,
      null,
      { timeout: 10_000, polling: 250 },
    );
  }),
);
