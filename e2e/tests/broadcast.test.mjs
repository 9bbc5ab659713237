// The real app: a streamer at / goes live, three viewers at /viewer watch,
// the streamer stops and goes live again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectWatching, waitForStatus, waitForText, waitForVideoPlaying } from '../lib/checks.mjs';
import { e2e, sleep } from '../lib/harness.mjs';

const VIDEO = '[data-testid="remote-video"]';
const PREVIEW = '[data-testid="local-video"]';

test(
  'a broadcast from / plays on three /viewer pages, stops, and goes live again',
  e2e(async (w) => {
    const streamer = await w.user('streamer', '/');
    await waitForVideoPlaying(streamer, PREVIEW);
    await waitForStatus(streamer, 'Preview');

    // Two viewers are there before the broadcast starts.
    const v1 = await w.user('viewer-1', '/viewer');
    const v2 = await w.user('viewer-2', '/viewer');
    for (const v of [v1, v2]) await waitForStatus(v, 'Waiting for the stream to start…');

    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live');

    for (const v of [v1, v2]) {
      await waitForStatus(v, 'Live');
      await expectWatching(v, VIDEO);
    }

    // A late viewer, a few seconds into the broadcast.
    await sleep(2000);
    const late = await w.user('viewer-late', '/viewer');
    await waitForStatus(late, 'Live');
    await expectWatching(late, VIDEO);

    for (const v of [v1, v2, late]) {
      // Starts muted by itself, with a visible Unmute button.
      const muted = await v.page.$eval(VIDEO, (el) => el.muted);
      assert.equal(muted, true, `${v.label}: the video should start muted`);
      const unmute = v.page.getByRole('button', { name: 'Unmute' });
      assert.equal(await unmute.isVisible(), true, `${v.label}: no visible Unmute button`);
    }
    await waitForText(streamer, streamer.page.getByTestId('viewer-count'), '3 viewers', 15_000, 'viewer count');

    await w.screenshot(late, 'viewer.png');
    await w.screenshot(streamer, 'streamer.png');

    // Stop: every viewer hears that the stream ended.
    await streamer.page.getByRole('button', { name: 'Stop' }).click();
    await waitForStatus(streamer, 'Preview');
    for (const v of [v1, v2, late]) await waitForStatus(v, 'The stream has ended.');

    // Go live again: the same pages play again without a reload.
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live');
    for (const v of [v1, v2, late]) {
      await waitForStatus(v, 'Live');
      await expectWatching(v, VIDEO);
    }
    await waitForText(streamer, streamer.page.getByTestId('viewer-count'), '3 viewers', 15_000, 'viewer count');
  }),
);
