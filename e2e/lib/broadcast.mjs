// The broadcast pages as the tests drive them: what they show, and a
// streamer at / going live to a viewer at /viewer.

import { waitForStatus } from './checks.mjs';
import { expectFramesGrow } from './media.mjs';
import { waitUntil } from './wait.mjs';

/** The viewer's stage video. */
export const VIDEO = '[data-testid="remote-video"]';
/** The streamer's camera preview. */
export const PREVIEW = '[data-testid="local-video"]';
export const LIVE = 'Live';
export const RECONNECTING = 'Reconnecting…';

/**
 * Opens / for `streamer` and /viewer for `viewer` (users of the world `w`
 * that have not opened a page yet), goes live, and waits until the viewer
 * plays (its frames grow). Both pages then hold window.__marker = 1, which a
 * reload would lose.
 */
export async function goLive(w, streamer, viewer) {
  await streamer.goto(w.server.url('/'));
  await expectFramesGrow(streamer, PREVIEW);
  await waitForStatus(streamer, 'Preview');
  await viewer.goto(w.server.url('/viewer'));
  await waitForStatus(viewer, 'Waiting for the stream to start…');

  await streamer.page.getByRole('button', { name: 'Go live' }).click();
  await waitForStatus(streamer, LIVE);
  await waitForStatus(viewer, LIVE);
  await expectFramesGrow(viewer, VIDEO);
  for (const u of [streamer, viewer]) await u.page.evaluate(() => (window.__marker = 1));
}

/**
 * The viewer clicks Unmute, as a viewer does to hear the broadcast (browsers
 * autoplay only muted video, so the page starts muted and plays no sound).
 */
export async function unmute(viewer) {
  await viewer.page.getByRole('button', { name: 'Unmute', exact: true }).click();
  await waitUntil(`${viewer.label}: the stage video unmuted`, () =>
    viewer.page.$eval(VIDEO, (v) => ({ ok: !v.muted, muted: v.muted })),
  );
}

/** The streamer turns the microphone off (on = false) or on again (on = true). */
export async function setMicrophone(streamer, on) {
  const button = (name) => streamer.page.getByRole('button', { name, exact: true });
  await button(on ? 'Turn on microphone' : 'Turn off microphone').click();
  const next = button(on ? 'Turn off microphone' : 'Turn on microphone');
  await waitUntil(`${streamer.label}: the microphone ${on ? 'on' : 'off'}`, async () => ({
    ok: (await next.count()) === 1,
  }));
}
