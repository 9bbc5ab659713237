// A named broadcast streams only to its own viewer page; a bad name is
// refused in words.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectStatusStays, expectWatching, waitForStatus } from '../lib/checks.mjs';
import { e2e } from '../lib/harness.mjs';
import { expectFramesGrow } from '../lib/media.mjs';

const VIDEO = '[data-testid="remote-video"]';
const WAITING = 'Waiting for the stream to start…';

test(
  '/b/NAME streams to /b/NAME/viewer and not to /viewer',
  e2e(async (w) => {
    const streamer = await w.user('streamer-team', '/b/team-standup');
    assert.equal(await streamer.page.getByTestId('room-name').textContent(), 'team-standup');
    await expectFramesGrow(streamer, '[data-testid="local-video"]');

    const named = await w.user('viewer-team', '/b/team-standup/viewer');
    const other = await w.user('viewer-default', '/viewer');
    await waitForStatus(named, WAITING);
    await waitForStatus(other, WAITING);

    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live');
    await waitForStatus(named, 'Live');
    await expectWatching(named, VIDEO);

    // The default broadcast's viewer keeps waiting, with nothing to play.
    await expectStatusStays(other, WAITING, 2000);
    const nothing = await other.page.$eval(VIDEO, (v) => ({
      source: v.srcObject !== null,
      readyState: v.readyState,
      peerConnections: (window.__e2ePeerConnections || []).length,
    }));
    assert.deepEqual(nothing, { source: false, readyState: 0, peerConnections: 0 }, 'the /viewer page got media');
  }),
);

test(
  'an invalid broadcast name shows an error in words',
  e2e(async (w) => {
    const v = await w.user('viewer-bad-name');
    const res = await v.page.goto(w.server.url('/b/bad%20name/viewer'), { waitUntil: 'load' });
    assert.equal(res.status(), 404);
    await waitForStatus(v, /^Error: The broadcast name “bad name” may only contain letters/);
    assert.equal(await v.page.getByRole('heading', { level: 1 }).textContent(), 'This broadcast name is not valid');
    assert.equal(await v.page.locator('video').count(), 0, 'an invalid name must not show a player');
    // The nearest valid name, as a link and in a box to change it.
    const suggestion = v.page.getByTestId('suggestion').getByRole('link', { name: 'bad-name' });
    assert.equal(await suggestion.getAttribute('href'), '/b/bad-name/viewer');
    assert.equal(await v.page.getByLabel('Broadcast name').inputValue(), 'bad-name');
    await v.page.getByLabel('Broadcast name').fill('team-standup');
    await v.page.getByRole('button', { name: 'Open' }).click();
    await v.page.waitForURL(/\/b\/team-standup\/viewer$/);

    // A meeting's error offers meetings, not broadcasts.
    await v.goto(w.server.url('/meet/Team%20Sync!'));
    await v.page.getByRole('heading', { level: 1, name: 'This meeting name is not valid' }).waitFor();
    assert.equal(await v.page.getByTestId('suggestion').getByRole('link').getAttribute('href'), '/meet/Team-Sync');
    const links = await v.page.locator('ul.links a').allTextContents();
    assert.deepEqual(links, ['Start or join a meeting']);
  }),
);
