// Every kind of page passes an axe-core scan with no serious or critical
// violation, and a call works from the keyboard: Ctrl+D and Ctrl+E toggle the
// microphone and camera; chat, People and Settings take the focus when they
// open, close with Escape, and give the focus back to their button.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectAccessible } from '../lib/axe.mjs';
import { waitForStatus } from '../lib/checks.mjs';
import { e2e } from '../lib/harness.mjs';
import { expectFramesGrow } from '../lib/media.mjs';
import { waitUntil } from '../lib/wait.mjs';

const focused = (user) =>
  user.page.evaluate(() => {
    const e = document.activeElement;
    return {
      tag: e?.tagName ?? null,
      id: e?.id ?? '',
      name: e?.querySelector?.('.visually-hidden')?.textContent ?? e?.textContent ?? '',
      panel: e?.closest('[data-testid$="-panel"]')?.dataset.testid ?? null,
    };
  });

async function pressed(user, name) {
  return (await user.page.getByRole('button', { name, exact: true }).getAttribute('aria-pressed')) === 'true';
}

test(
  'axe-core: no serious or critical violation on any page',
  e2e(async (w) => {
    const u = await w.user('a11y');
    // Every page has the icon.
    const icon = await fetch(w.server.url('/favicon.svg'));
    assert.equal(icon.status, 200);
    assert.match(await icon.text(), /^<svg/);
    for (const [path, ready, what] of [
      ['/', 'Preview', '/'],
      ['/viewer', 'Waiting for the stream to start…', '/viewer'],
      ['/meet', null, '/meet'],
      ['/meet/a11y-check', 'Preview', 'the pre-join page'],
      ['/diagnose', /^meetd works from here/, '/diagnose'],
      ['/recordings', null, '/recordings'],
      ['/meet/bad%20name', /^Error:/, 'an error page'],
      ['/no/such/page', null, 'the page-not-found page'],
    ]) {
      await u.goto(w.server.url(path));
      if (ready) await waitForStatus(u, ready, 30_000);
      else await u.page.getByRole('heading', { level: 1 }).waitFor();
      await expectAccessible(u, what);
      assert.equal(await u.page.locator('link[rel="icon"]').getAttribute('href'), '/favicon.svg', what);
    }

    // A broadcast while live: the streamer (with Stop) and a viewer playing it.
    await u.goto(w.server.url('/'));
    await expectFramesGrow(u, '[data-testid="local-video"]');
    await u.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(u, 'Live');
    const viewer = await w.user('a11y-viewer', '/viewer');
    await waitForStatus(viewer, 'Live');
    await expectAccessible(u, '/ while live');
    await expectAccessible(viewer, '/viewer while live');

    await u.goto(w.server.url('/meet/a11y-check'));
    await u.page.getByRole('button', { name: 'Join now' }).click();
    await waitForStatus(u, 'In call');
    await expectAccessible(u, 'a call');
    await u.page.getByRole('button', { name: 'Chat', exact: true }).click();
    await u.page.getByTestId('chat-panel').waitFor();
    await expectAccessible(u, 'a call with the chat open');
    await u.page.getByRole('button', { name: 'Participants', exact: true }).click();
    await u.page.getByTestId('people-panel').waitFor();
    await expectAccessible(u, 'a call with People open');
  }),
);

test(
  'a call from the keyboard: shortcuts, Escape, focus into panels and back',
  e2e(async (w) => {
    const u = await w.user('keys', '/meet/keys-check');
    await expectFramesGrow(u, '[data-testid="local-video"]');
    await u.page.getByRole('button', { name: 'Join now' }).click();
    await waitForStatus(u, 'In call');

    // Ctrl+D: microphone; Ctrl+E: camera (⌘ on macOS; this browser is not).
    assert.equal(await pressed(u, 'Microphone'), true);
    await u.page.keyboard.press('Control+d');
    await waitUntil('Ctrl+D turned the microphone off', async () => ({ ok: !(await pressed(u, 'Microphone')) }));
    await u.page.keyboard.press('Control+e');
    await waitUntil('Ctrl+E turned the camera off', async () => ({ ok: !(await pressed(u, 'Camera')) }));
    await u.page.keyboard.press('Control+d');
    await waitUntil('Ctrl+D turned the microphone on again', async () => ({ ok: await pressed(u, 'Microphone') }));

    for (const [button, panel] of [
      ['Chat', 'chat-panel'],
      ['Participants', 'people-panel'],
      ['Settings', 'settings-panel'],
    ]) {
      await u.page.getByRole('button', { name: button, exact: true }).focus();
      await u.page.keyboard.press('Enter');
      await u.page.getByTestId(panel).waitFor();
      const inside = await waitUntil(`${button}: the focus moves into the panel`, async () => {
        const f = await focused(u);
        return { ok: f.panel === panel, ...f };
      });
      assert.equal(inside.panel, panel);
      await u.page.keyboard.press('Escape');
      await waitUntil(`${button}: Escape closes the panel`, async () => ({ ok: (await u.page.getByTestId(panel).count()) === 0 }));
      const back = await focused(u);
      assert.equal(back.name, button, `${button}: the focus went back to ${JSON.stringify(back)}`);
    }

    // The shortcuts are listed in Settings.
    await u.page.getByRole('button', { name: 'Settings', exact: true }).click();
    const help = u.page.getByTestId('settings-panel').getByRole('region', { name: 'Keyboard shortcuts' });
    assert.match(await help.textContent(), /Ctrl\+D\s*Microphone on or off\s*Ctrl\+E\s*Camera on or off/);
  }),
);
