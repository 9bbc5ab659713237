// A viewer whose server goes away says so in words (the reconnecting banner:
// what broke, what happens next) and keeps trying.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectStatusStays, waitForStatus } from '../lib/checks.mjs';
import { e2e } from '../lib/harness.mjs';

test(
  'a /viewer page shows Reconnecting… while meetd is gone, and recovers when it is back',
  e2e(async (w) => {
    const v = await w.user('viewer', '/viewer');
    await waitForStatus(v, 'Waiting for the stream to start…');
    await v.page.getByTestId('viewer-count').waitFor();

    await w.server.kill();
    assert.equal(w.server.exit.signal, 'SIGKILL');

    await waitForStatus(v, 'Reconnecting…');
    // It stays that way while the server is gone (retries fail quietly).
    await expectStatusStays(v, 'Reconnecting…', 3000);
    // No viewer count kept from before the drop.
    assert.equal(await v.page.getByTestId('viewer-count').count(), 0, 'a stale viewer count while reconnecting');
    // The one reconnecting banner: what broke, and that nothing needs doing.
    const banner = await v.page.getByTestId('reconnecting').innerText();
    assert.match(banner, /Reconnecting…\s+The connection to the server was lost\. meetd tries again by itself/);

    // meetd comes back on the same address: the page rejoins by itself.
    await w.restartServer();
    await waitForStatus(v, 'Waiting for the stream to start…', 20_000);
    assert.equal(await v.page.getByTestId('reconnecting').count(), 0, 'the banner stays after the rejoin');
  }),
);
