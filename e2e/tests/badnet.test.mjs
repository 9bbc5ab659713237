// Bad networks: a viewer of a three-layer simulcast broadcast behind an
// emulated link (lib/netem.mjs: the viewer's Chromium in a network
// namespace, bin/netshape between it and meetd) through the five profiles
// of lib/netbench.mjs, each about a minute: a warm-up on the clear link,
// then 40 s of the profile. Each test checks the viewer's own stats against
// bounds that are generous on purpose (a busy 2-core machine runs three
// Chromium processes and meetd), and prints the figures; `make netbench`
// measures the same beside a direct browser-to-browser call.
//
// Needs root, ip(8), /dev/net/tun and bin/netshape; skipped without them
// (saying why), failed under CI (CI=1 or CI=true). The namespace and the
// emulator go however a test ends.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { needs } from '../lib/ci.mjs';
import { runProfile, summarize, table } from '../lib/netbench.mjs';
import { netemProblem } from '../lib/netem.mjs';

const shaped = needs('the bad-network tests', netemProblem());
const log = (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

/** Runs profile `name` through meetd, prints its figures, and checks them with check(figures). */
function profileTest(name, what, check) {
  test(`bad network, ${name}: ${what}`, { ...shaped.options, timeout: 240_000 }, async () => {
    shaped.check();
    const run = await runProfile('meetd', name, { log });
    const f = summarize(run);
    log(`\n${table([f])}\n  widths: ${f.widths}\n  meetd layer: ${f.layers}`);
    try {
      check(f);
    } catch (err) {
      console.error(`--- meetd output:\n${run.meetdLog.split('\n').slice(-80).join('\n')}`);
      throw err;
    }
  });
}

// The bounds catch a viewer left behind (a picture that stops, a queue that
// never drains, a layer that never comes back, audio in pieces), not the
// quality targets: on a machine shared with other work the direct call
// itself freezes for seconds (docs/performance.md, bad networks).
const STALL_MS = 3000;
const MIN_FPS = 5;

// The queue drained 0.8–1.2 s after the step on a quiet machine since meetd
// steps down on a falling REMB (docs/performance.md), and 1.0–5.0 s beside
// stress-ng --cpu 2; 2.3–2.6 s before, 5.9 s on a starved machine. The bound
// catches a queue left full, with room for a busy machine.
profileTest('step-down', '5 Mbit/s → 600 kbit/s: the queue drains, the picture plays on', (f) => {
  assert.ok(f.adaptS !== null && f.adaptS <= 8, `the queue at the bottleneck drained after ${f.adaptS} s, want ≤ 8 s`);
  assert.ok(f.stallMs <= STALL_MS, `the longest gap between frames shown was ${f.stallMs} ms, want ≤ ${STALL_MS}`);
  assert.ok(f.fps >= MIN_FPS, `${f.fps.toFixed(1)} frames a second decoded, want ≥ ${MIN_FPS}`);
});

// meetd probes a viewer's link with padding before stepping its video up
// (internal/bwe/probe.go): back on the full layer 5–7 s after the step on
// a quiet machine, where the build before took 9–16 s (docs/performance.md,
// probing). 10 s is what a viewer is promised; the build before passed it
// in two runs of six.
const STEP_UP_S = 10;

profileTest('step-up', `600 kbit/s → 5 Mbit/s: the picture plays on, back on the full layer within ${STEP_UP_S} s`, (f) => {
  assert.ok(f.fullAgainS !== null && f.fullAgainS <= STEP_UP_S,
    `back on the full layer ${f.fullAgainS === null ? 'never' : `${f.fullAgainS} s after the step`}, want within ${STEP_UP_S} s`);
  assert.ok(f.stallMs <= STALL_MS, `the longest gap between frames shown was ${f.stallMs} ms, want ≤ ${STALL_MS}`);
  assert.ok(f.fps >= MIN_FPS, `${f.fps.toFixed(1)} frames a second decoded, want ≥ ${MIN_FPS}`);
  assert.ok(f.endWidth >= f.stepWidth, `width ${f.stepWidth} at the step, ${f.endWidth} at the end: smaller on the faster link`);
});

profileTest('loss', '3% loss, 40 ms RTT: no long freeze, audio mostly whole', (f) => {
  assert.ok(f.stallMs <= STALL_MS, `the longest gap between frames shown was ${f.stallMs} ms, want ≤ ${STALL_MS}`);
  assert.ok(f.concealPct !== null && f.concealPct < 10, `audio concealed ${f.concealPct?.toFixed(2)}%, want < 10%`);
  assert.ok(f.fps >= MIN_FPS, `${f.fps.toFixed(1)} frames a second decoded, want ≥ ${MIN_FPS}`);
});

profileTest('jitter', '150 ms RTT, ±30 ms jitter: plays on', (f) => {
  assert.ok(f.stallMs <= STALL_MS, `the longest gap between frames shown was ${f.stallMs} ms, want ≤ ${STALL_MS}`);
  assert.ok(f.fps >= MIN_FPS, `${f.fps.toFixed(1)} frames a second decoded, want ≥ ${MIN_FPS}`);
});

profileTest('bufferbloat', '1 Mbit/s, 2 s of queue: the queue stays short', (f) => {
  assert.ok(f.queueP95 !== null && f.queueP95 <= 1000, `queueing delay p95 ${f.queueP95?.toFixed(0)} ms, want ≤ 1000`);
  assert.ok(f.fps >= MIN_FPS, `${f.fps.toFixed(1)} frames a second decoded, want ≥ ${MIN_FPS}`);
});
