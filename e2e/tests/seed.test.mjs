// The original streamer and viewer clients, unchanged but for the socket
// address, stream 1:N through meetd's /ws; meetd's own /viewer page plays
// the original streamer's broadcast too.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectWatching, waitForStatus } from '../lib/checks.mjs';
import { e2e } from '../lib/harness.mjs';
import { expectFramesGrow } from '../lib/media.mjs';
import { routeSeedPages } from '../lib/seed.mjs';
import { waitUntil } from '../lib/wait.mjs';

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
    // meetd takes a connection that says nothing for 250 ms for an original
    // viewer: both are in the default broadcast's audience before anyone streams.
    await waitUntil('meetd: two original viewers in the audience', async () => {
      const audience = await w.server.metric('meetd_participants{role="audience"}');
      return { ok: audience === 2, audience };
    });

    const streamer = await openSeed('seed-streamer', 'streamer');
    const preview = await expectFramesGrow(streamer, '#local');
    assert.ok(preview.videoWidth > 0);

    for (const v of [v1, v2]) {
      const seen = await expectWatching(v, '#remote');
      assert.ok(seen.videoWidth > 0, `${v.label}: ${JSON.stringify(seen)}`);
      assert.equal(seen.muted, true, `${v.label}: the original viewer starts muted`);
    }

    // A late viewer, and meetd's own viewer page, once the first two have watched two seconds of it.
    await Promise.all([v1, v2].map((v) => expectFramesGrow(v, '#remote', { frames: 40 })));
    const late = await openSeed('seed-viewer-late', 'viewer');
    const app = await w.user('app-viewer', '/viewer');

    const seenLate = await expectWatching(late, '#remote');
    assert.ok(seenLate.videoWidth > 0);
    await waitForStatus(app, 'Live');
    const seenApp = await expectWatching(app, '[data-testid="remote-video"]');
    assert.ok(seenApp.videoWidth > 0);

    // The first two still play after the others joined.
    await Promise.all([v1, v2].map((v) => expectFramesGrow(v, '#remote')));

    // Each original viewer made exactly one peer connection (one offer each).
    for (const v of [v1, v2, late]) {
      const states = await v.peerStates();
      assert.equal(states.length, 1, `${v.label}: peer connections ${JSON.stringify(states)}`);
      assert.equal(states[0].connection, 'connected', `${v.label}: ${JSON.stringify(states)}`);
    }
  }),
);
