// The viewer page as a first-time viewer meets it: a broadcast nobody has
// started says so; a name given reaches the streamer, and viewers without one
// are numbered; controls show only while something plays, on one row on a
// phone; LIVE is a red badge with the time, in the tab's title too; one who
// comes after the end hears that it ended.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitForStatus, waitForText } from '../lib/checks.mjs';
import { e2e } from '../lib/harness.mjs';
import { expectFramesGrow } from '../lib/media.mjs';
import { waitUntil } from '../lib/wait.mjs';

const ROOM = 'nobody-here';
const VIDEO = '[data-testid="remote-video"]';
const WAITING = 'Waiting for the stream to start…';

/** The viewer's sound, quality and full screen controls on show. */
async function playControls(user) {
  return {
    unmute: await user.page.getByRole('button', { name: 'Unmute', exact: true }).count(),
    quality: await user.page.getByTestId('quality').count(),
  };
}

test(
  'a viewer: never started, a name for the streamer, LIVE with the time, controls while playing, ended',
  e2e(async (w) => {
    const dana = await w.user('viewer-dana', `/b/${ROOM}/viewer`, { viewport: { width: 390, height: 844 } });
    await waitForStatus(dana, WAITING);
    // Nobody has started it: maybe a wrong link.
    await dana.page.getByText(`Nobody has started “${ROOM}” yet: check the link.`, { exact: false }).waitFor();
    assert.deepEqual(await playControls(dana), { unmute: 0, quality: 0 }, 'controls while nothing plays');
    assert.equal(await dana.page.title(), `Waiting · ${ROOM} · meetd`);

    // Dana gives her name; it is kept for next time.
    await dana.page.getByLabel('Your name').fill('Dana');
    await dana.page.getByRole('button', { name: 'Save name' }).click();
    await dana.page.getByText('Saved: the streamer now sees Dana.').waitFor();
    assert.equal(await dana.page.evaluate(() => localStorage.getItem('meetd.name')), 'Dana');
    const anon = await w.user('viewer-anon', `/b/${ROOM}/viewer`);
    await waitForStatus(anon, WAITING);

    const streamer = await w.user('streamer', `/b/${ROOM}`);
    await expectFramesGrow(streamer, '[data-testid="local-video"]');
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live');
    // The streamer tells its viewers apart: Dana by name, the other by number.
    const names = await waitUntil('streamer: both viewers listed by name', async () => {
      const list = await streamer.page
        .getByTestId('people-card')
        .locator('[data-testid="person"] .person-title')
        .allTextContents();
      return { ok: list.includes('Dana') && list.some((n) => /^Viewer \d+$/.test(n)), list };
    });
    assert.equal(names.list.length, 3, JSON.stringify(names.list));

    for (const v of [dana, anon]) {
      await waitForStatus(v, 'Live');
      await expectFramesGrow(v, VIDEO);
      assert.deepEqual(await playControls(v), { unmute: 1, quality: 1 }, `${v.label}: controls while playing`);
    }
    // LIVE in red with the time, on both pages and in their titles.
    for (const u of [dana, streamer]) {
      const badge = u.page.getByTestId('live-badge');
      await waitForText(u, badge, /^LIVE\s*\d+:\d\d/, undefined, 'the LIVE badge');
      const red = await badge.evaluate((e) => getComputedStyle(e).backgroundColor);
      assert.equal(red, 'rgb(197, 34, 31)', `${u.label}: the LIVE badge is not red`);
      assert.equal(await u.page.title(), `● Live · ${ROOM} · meetd`);
    }
    // On a phone the controls keep to one row.
    const tops = await dana.page.evaluate(() =>
      [...document.querySelectorAll('.stage-column .controls > *')].map((e) => Math.round(e.getBoundingClientRect().top)),
    );
    assert.ok(tops.length >= 2 && Math.max(...tops) - Math.min(...tops) < 24, `controls on more than one row: ${tops}`);

    await streamer.page.getByRole('button', { name: 'Stop' }).click();
    await waitForStatus(dana, 'The stream has ended.');
    assert.deepEqual(await playControls(dana), { unmute: 0, quality: 0 }, 'controls after the end');
    assert.equal(await dana.page.title(), `Ended · ${ROOM} · meetd`);

    // One who comes after the end hears that it ended, not that nobody started it.
    const late = await w.user('viewer-late', `/b/${ROOM}/viewer`);
    await waitForStatus(late, 'The stream has ended.');
  }),
);
