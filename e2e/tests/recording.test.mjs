// Recording, seen by the people in the room and afterwards: in a meeting the
// host (Ana) clicks Record; her page, another participant's (Ben) and an
// audience viewer's (Cy) show the red REC badge with a running time and say
// who started it. Ben writes in the chat. Ana stops (and confirms); the
// badge goes from every page, which say it stopped. /recordings lists the
// recording with its room, who was in it and its files; its replay page plays
// at least two video tracks on one clock: their frames grow, and after a seek
// their positions on the recording's timeline (currentTime + offset) stay
// within 100 ms of each other; the chat line shows beside them.
//
// A broadcast too: the live streamer on / records, and a viewer on /viewer
// sees REC and is told when it stops.
//
// On a meetd without recording both fail: the REC badge never shows.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { expectAccessible } from '../lib/axe.mjs';
import { PREVIEW, VIDEO } from '../lib/broadcast.mjs';
import { launchBrowser } from '../lib/browser.mjs';
import { waitForStatus } from '../lib/checks.mjs';
import { runWorld, step, World } from '../lib/harness.mjs';
import { expectFramesGrow } from '../lib/media.mjs';
import { startServer } from '../lib/server.mjs';
import { waitUntil } from '../lib/wait.mjs';

const ADMIN_PASSWORD = 'e2e-admin-password';

const until = (what, check, within) => waitUntil(what, check, { within });


/** Like harness.mjs's e2e(), with a meetd that records into a directory of the test's own. */
function recordingWorld(body) {
  return async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'meetd-rec-e2e-'));
    // Through the environment rather than flags, so that a meetd without
    // recording starts (and the test fails where the feature is missing).
    process.env.MEETD_RECORD_DIR = dir;
    process.env.MEETD_RECORD_MIN_FREE = '1M';
    process.env.MEETD_ADMIN_PASSWORD = ADMIN_PASSWORD;
    const server = await startServer();
    let browser;
    try {
      browser = await launchBrowser();
    } catch (err) {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const world = new World(server, browser);
    // Three people in a call, ffmpeg and a replay on two shared cores: give
    // each action more time than the default before it counts as failed.
    const open = world.user.bind(world);
    world.user = async (...args) => {
      const u = await open(...args);
      u.page.setDefaultTimeout(30_000);
      return u;
    };
    try {
      await runWorld(world, (w) => body(w, t, dir), t);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** The REC badge of a page: its text, or null when there is none. */
function recBadge(user) {
  return user.page.evaluate(() => document.querySelector('[data-testid="rec-badge"]')?.textContent ?? null);
}

/** Opens a user's page; a page load gets a minute on this shared machine. */
async function visit(w, label, pagePath) {
  const u = await w.user(label);
  await u.page.goto(w.server.url(pagePath), { waitUntil: 'load', timeout: 60_000 });
  return u;
}

/** Seconds from an elapsed time shown as M:SS or H:MM:SS. */
function seconds(text) {
  const m = /(\d+):(\d\d)(?::(\d\d))?/.exec(text ?? '');
  if (!m) return null;
  return m[3] === undefined ? Number(m[1]) * 60 + Number(m[2]) : Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/**
 * Starts noting every notice (toast) the page shows: they go away after a few
 * seconds, sooner than a busy machine may get to look at every page.
 */
function noteToasts(user) {
  return user.page.evaluate(() => {
    window.__toastsSeen = window.__toastsSeen || [];
    const note = () => {
      for (const e of document.querySelectorAll('[data-testid="toasts"] .toast')) {
        if (!window.__toastsSeen.includes(e.textContent)) window.__toastsSeen.push(e.textContent);
      }
    };
    note();
    new MutationObserver(note).observe(document.body, { childList: true, subtree: true, characterData: true });
  });
}

/** Waits until `user` has shown a notice containing `text` (since noteToasts). */
function expectToast(user, text) {
  return until(`${user.label}: a notice "${text}"`, async () => {
    const toasts = await user.page.evaluate(() => window.__toastsSeen ?? null);
    return { ok: (toasts ?? []).some((t) => t.includes(text)), toasts };
  });
}

/** Every replay element's place: file, offset, currentTime, paused, readyState, frames shown. */
function replayElements(user) {
  return user.page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="replay-video"], [data-testid="replay-audio"]')].map((e) => ({
      tag: e.tagName.toLowerCase(),
      file: e.dataset.file,
      offset: Number(e.dataset.offset),
      time: e.currentTime,
      paused: e.paused,
      readyState: e.readyState,
      error: e.error ? `${e.error.code} ${e.error.message}` : null,
      frames: e.getVideoPlaybackQuality ? e.getVideoPlaybackQuality().totalVideoFrames : null,
    })),
  );
}

test(
  'the host records a meeting: everyone sees REC; /recordings lists it; the replay plays its tracks in sync',
  recordingWorld(async (w) => {
    const room = `rec-${randomBytes(4).toString('hex')}`;
    const ana = await visit(w, 'Ana', `/meet/${room}`);
    const ben = await visit(w, 'Ben', `/meet/${room}`);
    const cy = await visit(w, 'Cy', `/meet/${room}`);
    const everyone = [ana, ben, cy];

    await step('Ana and Ben join the stage, Cy the audience', async () => {
      for (const u of [ana, ben]) {
        await expectFramesGrow(u, '[data-testid="local-video"]');
        await u.page.getByLabel('Your name').fill(u.label);
        await u.page.getByRole('button', { name: 'Join now' }).click();
        await waitForStatus(u, 'In call', 45_000);
      }
      await cy.page.getByLabel('Your name').fill('Cy');
      await cy.page.getByRole('button', { name: 'Join as viewer' }).click();
      await waitForStatus(cy, 'In call', 45_000);
      // Everyone sees both cameras play before the recording starts.
      for (const u of everyone) {
        await until(`${u.label}: two camera tiles`, async () => {
          const n = await u.page.locator('figure[data-testid="tile"] video').count();
          return { ok: n === 2, n };
        });
      }
      await expectFramesGrow(cy, 'figure[data-testid="tile"][aria-label="Ana"] video');
      // Only the host has Record.
      assert.equal(await ben.page.getByRole('button', { name: 'Record', exact: true }).count(), 0, 'Ben has no Record');
      assert.equal(await cy.page.getByRole('button', { name: 'Record', exact: true }).count(), 0, 'Cy has no Record');
    });

    await step('Ana records: every page shows REC with a running time, and says Ana started it', async () => {
      for (const u of everyone) await noteToasts(u);
      await ana.page.getByRole('button', { name: 'Record', exact: true }).click();
      for (const u of everyone) {
        await until(`${u.label}: the REC badge`, async () => {
          const text = await recBadge(u);
          return { ok: text !== null && text.includes('REC') && seconds(text) !== null, text };
        });
        await expectToast(u, 'Ana started recording');
      }
      // The time runs: wait for it to pass 0:06 on every page (about six seconds recorded).
      for (const u of everyone) {
        await until(
          `${u.label}: the REC time passes 0:06`,
          async () => {
            const text = await recBadge(u);
            return { ok: (seconds(text) ?? 0) >= 6, text };
          },
          30_000,
        );
      }
      await ana.page.getByRole('button', { name: 'Stop recording', exact: true }).waitFor();
      await w.screenshot(cy, 'recording-audience.png');
    });

    await step('Ben writes in the chat while recording', async () => {
      await ben.page.getByRole('button', { name: 'Chat', exact: true }).click();
      await ben.page.getByLabel('Your message').fill('hello from the recording');
      await ben.page.getByLabel('Your message').press('Enter');
      await expectToast(ana, 'hello from the recording');
      // A few seconds after it, so the replay shows it before the end.
      await until('the REC time passes 0:09', async () => ({ ok: (seconds(await recBadge(ana)) ?? 0) >= 9 }), 20_000);
    });

    await step('Ana stops, after confirming: REC goes from every page, which say so', async () => {
      await ana.page.getByRole('button', { name: 'Stop recording', exact: true }).click();
      const dialog = ana.page.getByRole('alertdialog', { name: 'Stop recording?' });
      await dialog.getByRole('button', { name: 'Stop recording' }).click();
      for (const u of everyone) {
        await until(`${u.label}: the REC badge is gone`, async () => {
          const text = await recBadge(u);
          return { ok: text === null, text };
        });
        await expectToast(u, 'Recording stopped');
      }
      await ana.page.getByRole('button', { name: 'Record', exact: true }).waitFor();
    });

    // The call is over: its pages go, so that the list and the replay (and
    // ffmpeg making the combined file) have the machine's CPU.
    for (const u of everyone) await u.context.close();
    w.users = w.users.filter((u) => !everyone.includes(u));
    const list = await w.user('list');
    await list.page.goto(w.server.url('/recordings'), { waitUntil: 'load', timeout: 60_000 });
    let id;
    await step('/recordings lists it: room, who, duration, tracks', async () => {
      const item = list.page.locator('[data-testid="recording"]', { hasText: room });
      await item.waitFor({ timeout: 60_000 });
      id = await item.getAttribute('data-id');
      // Done (no longer running), with its tracks to watch.
      const words = await until('the recording is done, to watch', async () => {
        const text = await item.textContent();
        const watch = await item.getByRole('link', { name: 'Watch' }).count();
        const running = await item.getByTestId('rec-running').count();
        return { ok: watch === 1 && running === 0, text };
      });
      assert.match(words.text, /Ana/);
      assert.match(words.text, /Ben/);
      const duration = seconds(await item.getByTestId('duration').textContent());
      // At least the nine seconds the badge counted (more on a slow machine).
      assert.ok(duration >= 8 && duration <= 600, `duration ${duration} s`);
      const files = await item.locator('.rec-tracks a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      assert.ok(files.length >= 3, `at least Ana's and Ben's cameras and a microphone: ${JSON.stringify(files)}`);
      // Each file downloads.
      for (const href of files) {
        const res = await fetch(w.server.url(href), { headers: { Range: 'bytes=0-15' } });
        assert.ok(res.status === 200 || res.status === 206, `${href}: ${res.status}`);
      }
      // The combined file is made (the list follows its progress), then offered for download.
      const combined = await until(
        'the combined file is ready',
        async () => {
          const state = await item.getByTestId('combined').getAttribute('data-state');
          return { ok: state === 'ready' || state === 'failed' || state === 'unavailable', state };
        },
        90_000,
      );
      assert.equal(combined.state, 'ready', 'meetd made the combined file (ffmpeg is installed by make test)');
      const link = await item.getByRole('link', { name: 'Download video' }).getAttribute('href');
      const res = await fetch(w.server.url(link), { headers: { Range: 'bytes=0-15' } });
      assert.ok(res.status === 200 || res.status === 206, `${link}: ${res.status}`);
      await expectAccessible(list, '/recordings');
      await w.screenshot(list, 'recordings.png');
    });

    await step('the replay plays two tracks together, in sync after a seek, with the chat', async () => {
      await list.page.locator('[data-testid="recording"]', { hasText: room }).getByRole('link', { name: 'Watch' }).click();
      await list.page.waitForURL(`**/recordings/${id}`);
      const player = list;
      // Loading files of unknown duration (WebM written as it came) takes a few seconds on a busy machine.
      await until(
        'two videos with their first frame',
        async () => {
          const els = await replayElements(player);
          const videos = els.filter((e) => e.tag === 'video');
          return { ok: videos.length >= 2 && videos.every((v) => v.readyState >= 2), els };
        },
        60_000,
      );
      await expectAccessible(player, 'the replay page');
      await player.page.getByRole('button', { name: 'Play', exact: true }).click();
      for (const nth of [0, 1]) {
        await until(`video ${nth} shows new frames`, async () => {
          const before = (await replayElements(player)).filter((e) => e.tag === 'video')[nth];
          await new Promise((r) => setTimeout(r, 700));
          const after = (await replayElements(player)).filter((e) => e.tag === 'video')[nth];
          return { ok: after.frames >= before.frames + 5 && !after.paused, before, after };
        });
      }

      // Seek to 3 s on the timeline, as the person would with the bar.
      await player.page.getByTestId('seek').evaluate((input) => {
        const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
        set.call(input, '3');
        input.dispatchEvent(new Event('input', { bubbles: true }));
      });
      const framesAtSeek = (await replayElements(player)).filter((e) => e.tag === 'video').map((v) => v.frames);
      await until('both videos play on after the seek', async () => {
        const videos = (await replayElements(player)).filter((e) => e.tag === 'video');
        const ok = videos.slice(0, 2).every((v, i) => !v.paused && v.frames >= framesAtSeek[i] + 5 && v.offset + v.time >= 3);
        return { ok, videos };
      });
      // Their places on the timeline, sampled together, several times over a second.
      const samples = await player.page.evaluate(async () => {
        const out = [];
        for (let i = 0; i < 8; i++) {
          const vs = [...document.querySelectorAll('[data-testid="replay-video"]')].slice(0, 2);
          out.push(vs.map((v) => Number(v.dataset.offset) + v.currentTime));
          await new Promise((r) => setTimeout(r, 150));
        }
        return out;
      });
      for (const [a, b] of samples) {
        assert.ok(Math.abs(a - b) <= 0.1, `positions ${a.toFixed(3)} and ${b.toFixed(3)} are more than 100 ms apart: ${JSON.stringify(samples)}`);
      }
      assert.ok(samples.at(-1)[0] > samples[0][0], `the videos play on: ${JSON.stringify(samples)}`);
      assert.ok(samples[0][0] >= 3 && samples[0][0] < 8, `at the seek: ${JSON.stringify(samples[0])}`);

      // The chat line, once the clock passes the time it was written.
      await until(
        'the replay shows Ben’s chat line',
        async () => {
          const text = await player.page.getByTestId('replay-chat').textContent().catch(() => '');
          return { ok: text.includes('hello from the recording'), text };
        },
        20_000,
      );
      await w.screenshot(player, 'replay.png');
    });
  }),
);

test(
  'the streamer records a broadcast: the viewer sees REC, and /recordings lists it',
  recordingWorld(async (w) => {
    const streamer = await visit(w, 'streamer', '/');
    await expectFramesGrow(streamer, PREVIEW);
    await waitForStatus(streamer, 'Preview', 45_000);
    const viewer = await visit(w, 'viewer', '/viewer');
    await streamer.page.getByRole('button', { name: 'Go live' }).click();
    await waitForStatus(streamer, 'Live', 45_000);
    await waitForStatus(viewer, 'Live', 45_000);
    await expectFramesGrow(viewer, VIDEO);

    await step('the streamer records: both pages show REC', async () => {
      for (const u of [streamer, viewer]) await noteToasts(u);
      await streamer.page.getByRole('button', { name: 'Record', exact: true }).click();
      for (const u of [streamer, viewer]) {
        await until(`${u.label}: the REC badge`, async () => {
          const text = await recBadge(u);
          return { ok: text !== null && text.includes('REC'), text };
        });
      }
      await expectToast(viewer, 'started recording');
      await until('the REC time passes 0:03', async () => ({ ok: (seconds(await recBadge(viewer)) ?? 0) >= 3 }), 20_000);
      await w.screenshot(viewer, 'recording-viewer.png');
    });

    await step('the streamer stops recording: REC goes, the viewer is told', async () => {
      await streamer.page.getByRole('button', { name: 'Stop recording', exact: true }).click();
      await streamer.page.getByRole('alertdialog').getByRole('button', { name: 'Stop recording' }).click();
      for (const u of [streamer, viewer]) {
        await until(`${u.label}: the REC badge is gone`, async () => ({ ok: (await recBadge(u)) === null }));
      }
      await expectToast(viewer, 'Recording stopped');
      // Still live: stopping the recording is not stopping the broadcast.
      await waitForStatus(streamer, 'Live');
    });

    await step('from another machine /recordings asks for the admin password, then lists and plays it', async () => {
      // Behind a proxy meetd does not take the request as its own machine's.
      const remote = await w.user('remote');
      await remote.page.setExtraHTTPHeaders({ 'X-Forwarded-For': '203.0.113.7' });
      await remote.page.goto(w.server.url('/recordings'), { waitUntil: 'load', timeout: 60_000 });
      const login = remote.page.getByTestId('login');
      await login.waitFor({ timeout: 60_000 });
      assert.match(await login.textContent(), /password/i, 'meetd’s words say what it needs');
      await login.getByLabel('Password', { exact: true }).fill('wrong');
      await login.getByRole('button', { name: 'Continue' }).click();
      await remote.page.getByTestId('login').waitFor(); // refused: asked again
      await remote.page.getByTestId('login').getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
      await remote.page.getByTestId('login').getByRole('button', { name: 'Continue' }).click();
      const item = remote.page.locator('[data-testid="recording"]', { hasText: 'default' });
      await item.waitFor({ timeout: 60_000 });
      // The replay fetches the files with the password, which a media element cannot send.
      await item.getByRole('link', { name: 'Watch' }).click();
      await until(
        'the replay’s video loads with the admin password',
        async () => {
          const els = await replayElements(remote);
          return { ok: els.some((e) => e.tag === 'video' && e.readyState >= 2), els };
        },
        60_000,
      );
    });

    await step('/recordings lists the broadcast', async () => {
      const list = await w.user('list');
      await list.page.goto(w.server.url('/recordings'), { waitUntil: 'load', timeout: 60_000 });
      const item = list.page.locator('[data-testid="recording"]', { hasText: 'default' });
      await item.waitFor({ timeout: 60_000 });
      await until('its tracks are listed', async () => {
        const n = await item.locator('.rec-tracks a').count();
        return { ok: n >= 2, n };
      });
    });
  }),
);
