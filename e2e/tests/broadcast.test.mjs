// The real app: a streamer at / goes live, three viewers at /viewer watch and,
// once they unmute, hear it; the streamer's microphone off silences it, on
// again brings the sound back; the streamer stops and goes live again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIVE, PREVIEW, setMicrophone, unmute, VIDEO } from '../lib/broadcast.mjs';
import { expectWatching, waitForStatus, waitForText } from '../lib/checks.mjs';
import { e2e } from '../lib/harness.mjs';
import { expectFramesGrow, expectSilence, expectSound } from '../lib/media.mjs';

test(
  'a broadcast from / plays and is heard on three /viewer pages, the microphone mutes it, it stops and goes live again',
  e2e(async (w) => {
    const streamer = await w.user('streamer', '/');
    await expectFramesGrow(streamer, PREVIEW);
    await waitForStatus(streamer, 'Preview');

    // Two viewers are there before the broadcast starts.
    const v1 = await w.user('viewer-1', '/viewer');
    const v2 = await w.user('viewer-2', '/viewer');
    for (const v of [v1, v2]) await waitForStatus(v, 'Waiting for the stream to start…');

    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, LIVE);

    for (const v of [v1, v2]) {
      await waitForStatus(v, LIVE);
      await expectWatching(v, VIDEO);
    }

    // A late viewer, once the first two have watched two seconds of it.
    await Promise.all([v1, v2].map((v) => expectFramesGrow(v, VIDEO, { frames: 40 })));
    const late = await w.user('viewer-late', '/viewer');
    await waitForStatus(late, LIVE);
    await expectWatching(late, VIDEO);
    const viewers = [v1, v2, late];

    for (const v of viewers) {
      // Starts muted by itself, with a visible Unmute button.
      const muted = await v.page.$eval(VIDEO, (el) => el.muted);
      assert.equal(muted, true, `${v.label}: the video should start muted`);
      const button = v.page.getByRole('button', { name: 'Unmute' });
      assert.equal(await button.isVisible(), true, `${v.label}: no visible Unmute button`);
    }
    // Muted, a viewer hears nothing; after Unmute, the streamer's microphone
    // (the fake one beeps).
    await Promise.all(viewers.map((v) => expectSilence(v)));
    for (const v of viewers) await unmute(v);
    await Promise.all(viewers.map((v) => expectSound(v)));
    await waitForText(streamer, streamer.page.getByTestId('viewer-count'), '3 viewers', 15_000, 'viewer count');

    await w.screenshot(late, 'viewer.png');
    await w.screenshot(streamer, 'streamer.png');

    // The streamer turns the microphone off: silence everywhere, the picture goes on; on again: sound.
    await setMicrophone(streamer, false);
    await Promise.all(viewers.map((v) => expectSilence(v)));
    await Promise.all(viewers.map((v) => expectFramesGrow(v, VIDEO)));
    await setMicrophone(streamer, true);
    await Promise.all(viewers.map((v) => expectSound(v)));

    // Stop: every viewer hears that the stream ended.
    await streamer.page.getByRole('button', { name: 'Stop' }).click();
    await waitForStatus(streamer, 'Preview');
    for (const v of viewers) await waitForStatus(v, 'The stream has ended.');

    // Go live again: the same pages play, and are heard, again without a reload.
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, LIVE);
    for (const v of viewers) await waitForStatus(v, LIVE);
    await Promise.all(viewers.map((v) => expectWatching(v, VIDEO)));
    await Promise.all(viewers.map((v) => expectSound(v)));
    await waitForText(streamer, streamer.page.getByTestId('viewer-count'), '3 viewers', 15_000, 'viewer count');
  }),
);
