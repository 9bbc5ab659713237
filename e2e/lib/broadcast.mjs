// The broadcast pages as the tests drive them: what they show, and a
// streamer at / going live to a viewer at /viewer.

import { waitForStatus, waitForVideoPlaying } from './checks.mjs';

/** The viewer's stage video. */
export const VIDEO = '[data-testid="remote-video"]';
/** The streamer's camera preview. */
export const PREVIEW = '[data-testid="local-video"]';
export const LIVE = 'Live';
export const RECONNECTING = 'Reconnecting…';

/**
 * Opens / for `streamer` and /viewer for `viewer` (users of the world `w`
 * that have not opened a page yet), goes live, and waits until the viewer
 * plays. Both pages then hold window.__marker = 1, which a reload would lose.
 */
export async function goLive(w, streamer, viewer) {
  await streamer.goto(w.server.url('/'));
  await waitForVideoPlaying(streamer, PREVIEW);
  await waitForStatus(streamer, 'Preview');
  await viewer.goto(w.server.url('/viewer'));
  await waitForStatus(viewer, 'Waiting for the stream to start…');

  await streamer.page.getByRole('button', { name: 'Go live' }).click();
  await waitForStatus(streamer, LIVE);
  await waitForStatus(viewer, LIVE);
  await waitForVideoPlaying(viewer, VIDEO);
  for (const u of [streamer, viewer]) await u.page.evaluate(() => (window.__marker = 1));
}
