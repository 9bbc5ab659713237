// The original streamer and viewer clients, unchanged but for the socket
// address, stream 1:N through meetd's /ws; meetd's own /viewer page plays
// the original streamer's broadcast too.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectWatching, waitForStatus, waitForVideoPlaying } from '../lib/checks.mjs';
import { e2e, sleep } from '../lib/harness.mjs';
import { routeSeedPages } from '../lib/seed.mjs';

test(
  'original clients stream 1:N through /ws, and /viewer plays their broadcast',
  e2e(async (w) => {
    const openSeed = async (label, page) => {
      const u = await w.user(label);
      await routeSeedPages(u, w.server);
      await u.goto(w.server.url(`/seed/${page}.html`));
      return u;
    };

    // Two viewers wait before anyone streams.
    const v1 = await openSeed('seed-viewer-1', 'viewer');
    const v2 = await openSeed('seed-viewer-2', 'viewer');
    await sleep(500); // past meetd's 250 ms: both are now plain audience members

    const streamer = await openSeed('seed-streamer', 'streamer');
    const preview = await waitForVideoPlaying(streamer, '#local');
    assert.ok(preview.videoWidth > 0);

    for (const v of [v1, v2]) {
      const seen = await expectWatching(v, '#remote');
      assert.ok(seen.videoWidth > 0 && seen.t2 > seen.t1, `${v.label}: ${JSON.stringify(seen)}`);
      assert.equal(seen.muted, true, `${v.label}: the original viewer starts muted`);
    }

    // A late viewer, and meetd's own viewer page, a few seconds in.
    await sleep(2000);
    const late = await openSeed('seed-viewer-late', 'viewer');
    const app = await w.user('app-viewer', '/viewer');

    const seenLate = await expectWatching(late, '#remote');
    assert.ok(seenLate.videoWidth > 0 && seenLate.t2 > seenLate.t1);
    await waitForStatus(app, 'Live');
    const seenApp = await expectWatching(app, '[data-testid="remote-video"]');
    assert.ok(seenApp.videoWidth > 0 && seenApp.t2 > seenApp.t1);

    // The first two still play after the others joined.
    for (const v of [v1, v2]) await waitForVideoPlaying(v, '#remote');

    // Each original viewer made exactly one peer connection (one offer each).
    for (const v of [v1, v2, late]) {
      const states = await v.peerStates();
      assert.equal(states.length, 1, `${v.label}: peer connections ${JSON.stringify(states)}`);
      assert.equal(states[0].connection, 'connected', `${v.label}: ${JSON.stringify(states)}`);
    }
  }),
);
