// The streamer invites a viewer to the stage: the viewer is asked, and
// only once they accept do they go on stage and everyone sees them. A
// viewer who declines stays in the audience.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PREVIEW, VIDEO } from '../lib/broadcast.mjs';
import { waitForStatus, waitForText } from '../lib/checks.mjs';
import { expectFramesGrow } from '../lib/media.mjs';
import { e2e } from '../lib/harness.mjs';

const ROOM = '/b/guest-check';

/** The streamer's row for the viewer with this name, in the Participants card. */
const row = (streamer, name) =>
  streamer.page.getByTestId('people-card').locator('[data-testid="person"]', { hasText: name });

/** The streamer opens the menu of the viewer's row and picks the action. */
async function hostAction(streamer, name, action) {
  await row(streamer, name).getByRole('button', { name: `Actions for ${name}` }).click();
  await streamer.page.getByRole('menu', { name: `Actions for ${name}` }).getByRole('menuitem', { name: action }).click();
}

test(
  'an invited viewer joins the stage only on accepting; one who declines stays in the audience',
  e2e(async (w) => {
    const streamer = await w.user('streamer-guest', ROOM);
    await expectFramesGrow(streamer, PREVIEW);
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live');

    const guests = [];
    for (const name of ['Ana', 'Ben']) {
      const u = await w.user(`viewer-${name}`);
      await u.page.addInitScript((n) => localStorage.setItem('meetd.name', n), name);
      await u.goto(w.server.url(`${ROOM}/viewer`));
      await expectFramesGrow(u, VIDEO);
      guests.push(u);
    }
    const [ana, ben] = guests;

    // The actions on a person are in a menu of theirs, not a button under every name.
    assert.equal(await row(streamer, 'Ana').getByRole('button', { name: /Invite to stage/ }).count(), 0);
    // Invited, Ana is asked; she is not on stage until she answers.
    await hostAction(streamer, 'Ana', 'Invite to stage');
    await ana.page.getByRole('dialog', { name: /invited to the stage/ }).waitFor({ timeout: 15_000 });
    await waitForText(streamer, row(streamer, 'Ana'), /Invited/, undefined, 'Ana invited');
    assert.equal(await streamer.page.locator('.guest-row video').count(), 0, 'Ana is on stage before accepting');

    await ana.page.getByRole('button', { name: 'Join stage' }).click();
    await expectFramesGrow(streamer, '.guest-row video');
    await expectFramesGrow(ben, '.guest-row video');

    // Ben declines: he stays in the audience and the invitation is gone.
    await hostAction(streamer, 'Ben', 'Invite to stage');
    await ben.page.getByRole('dialog', { name: /invited to the stage/ }).waitFor({ timeout: 15_000 });
    await ben.page.getByRole('button', { name: 'Not now' }).click();
    await waitForText(streamer, row(streamer, 'Ben'), /^B\s*Ben$/, undefined, 'the invitation declined (no "Invited")');
    await row(streamer, 'Ben').getByRole('button', { name: 'Actions for Ben' }).click();
    await streamer.page.getByRole('menuitem', { name: 'Invite to stage' }).waitFor();
    assert.equal(await streamer.page.locator('.guest-row video').count(), 1, 'only Ana is on stage');
  }),
);
