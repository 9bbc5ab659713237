// A meeting of three: Ana and Ben join /meet/NAME through the pre-join
// screen and see and hear each other, then Cy joins; they turn a camera off
// and on, mute (the others hear silence from them) and unmute, chat, and
// share a screen (a canvas standing in for the screen headless Chromium
// lacks). Each time the call changes (someone joins, a share starts or
// stops), the videos already playing must go on playing: their frames grow.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { waitForStatus, waitForText } from '../lib/checks.mjs';
import { e2e, step } from '../lib/harness.mjs';
import { expectFramesGrow, expectSilence, expectSound } from '../lib/media.mjs';
import { waitUntil } from '../lib/wait.mjs';

// Runs in every page before its own scripts: getDisplayMedia returns an
// animated 1280×720 canvas (a slide with a moving block and a frame count).
function fakeScreenShare() {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  devices.getDisplayMedia = async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 1280;
    canvas.height = 720;
    const g = canvas.getContext('2d');
    let frame = 0;
    const draw = () => {
      frame++;
      g.fillStyle = '#f4f6fb';
      g.fillRect(0, 0, 1280, 720);
      g.fillStyle = '#1a73e8';
      g.fillRect(0, 0, 1280, 96);
      g.fillStyle = '#ffffff';
      g.font = 'bold 56px sans-serif';
      g.fillText('SCREEN', 48, 68);
      g.fillStyle = '#202124';
      g.font = '40px sans-serif';
      g.fillText('Quarterly plan', 48, 190);
      g.font = '30px sans-serif';
      ['• Ship meetings', '• Screen share for everyone', '• Fewer dropped calls'].forEach((line, i) =>
        g.fillText(line, 72, 260 + i * 52),
      );
      const x = 640 + Math.round(260 * Math.sin(frame / 10));
      g.fillStyle = '#e8710a';
      g.fillRect(x, 420, 200, 160);
      g.fillStyle = '#5f6368';
      g.font = '24px monospace';
      g.fillText(`frame ${frame}`, 48, 680);
    };
    draw();
    const stream = canvas.captureStream(15);
    const track = stream.getVideoTracks()[0];
    const timer = setInterval(() => {
      if (track.readyState === 'ended') clearInterval(timer);
      else draw();
    }, 1000 / 15);
    return stream;
  };
}

const until = (what, check, within) => waitUntil(what, check, { within });


const tileOf = (name) => `figure[data-testid="tile"][aria-label="${name}"]`;
const screenTileOf = (name) => `figure[data-testid="screen-tile"][aria-label="${name} (screen)"]`;

/** What one tile shows: its caption, whether it has a video, the avatar's letters, the muted mark. */
function tileState(user, selector) {
  return user.page.evaluate((selector) => {
    const fig = document.querySelector(selector);
    if (!fig) return { found: false };
    return {
      found: true,
      caption: fig.querySelector('figcaption')?.textContent?.trim() ?? null,
      video: fig.querySelector('video') !== null,
      avatar: fig.querySelector('.tile-avatar .avatar')?.textContent?.trim() ?? null,
      muted: fig.querySelector('[data-testid="muted"]') !== null,
    };
  }, selector);
}

/**
 * The start of the ids of the streams `user` receives from the person called
 * `name`: their participant id (their tile's data-participant) and "_".
 */
async function streamsFrom(user, name) {
  const id = await user.page.getAttribute(tileOf(name), 'data-participant', { timeout: 5000 });
  assert.ok(id, `${user.label}: ${name}'s tile has no participant id`);
  return `${id}_`;
}

/** `user` hears `name`: the sound of their microphone (the fake one beeps) is decoded and played. */
async function hears(user, name) {
  await expectSound(user, { from: await streamsFrom(user, name) });
}

/** `user` hears nothing from `name`. */
async function hearsNothingFrom(user, name) {
  await expectSilence(user, { from: await streamsFrom(user, name) });
}

/** `user` sees `name`'s camera tile play: its frames grow. */
function sees(user, name) {
  return expectFramesGrow(user, `${tileOf(name)} video`);
}

/** Fails when a notice on show covers the name on any tile. */
async function expectToastsCoverNoName(user) {
  await user.page.locator('[data-testid="toasts"] .toast').first().waitFor({ timeout: 10_000 });
  const covered = await user.page.evaluate(() => {
    const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const toasts = [...document.querySelectorAll('[data-testid="toasts"] .toast')].map((e) => e.getBoundingClientRect());
    return [...document.querySelectorAll('.tile-name')]
      .filter((n) => toasts.some((t) => hit(t, n.getBoundingClientRect())))
      .map((n) => n.textContent);
  });
  assert.deepEqual(covered, [], `${user.label}: notices cover the names of tiles`);
}

/**
 * Starts noting, every animation frame, each tile that shows a video element
 * with nothing to draw yet (black) instead of its avatar; stopBlackWatch returns them.
 */
function startBlackWatch(user) {
  return user.page.evaluate(() => {
    window.__black = [];
    window.__watching = true;
    const tick = () => {
      for (const fig of document.querySelectorAll('figure[data-testid="tile"]')) {
        const v = fig.querySelector('video');
        const avatar = fig.querySelector('.tile-avatar');
        if (v && !avatar && (v.readyState < 2 || v.videoWidth === 0)) window.__black.push(fig.getAttribute('aria-label'));
      }
      if (window.__watching) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

function stopBlackWatch(user) {
  return user.page.evaluate(() => {
    window.__watching = false;
    return [...new Set(window.__black)];
  });
}

/** The messages in the page's chat panel: who (as shown) and what. */
function chatItems(user) {
  return user.page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="chat-panel"] li.chat-msg')].map((li) => ({
      name: li.querySelector('.chat-name')?.textContent ?? null,
      text: li.querySelector('.chat-text')?.textContent ?? null,
    })),
  );
}

/** The button's aria-pressed, as a boolean. */
async function pressed(user, name) {
  const v = await user.page.getByRole('button', { name, exact: true }).getAttribute('aria-pressed');
  return v === 'true';
}

async function press(user, name, expectPressed) {
  await user.page.getByRole('button', { name, exact: true }).click();
  await until(`${user.label}: "${name}" aria-pressed=${expectPressed}`, async () =>
    (await pressed(user, name)) === expectPressed ? true : { ok: false, pressed: !expectPressed },
  );
}

test(
  'three people meet: video and sound both ways, through joins and screen shares; camera off, mute, chat',
  e2e(async (w) => {
    const room = `e2e-${randomBytes(4).toString('hex')}`;
    const names = ['Ana', 'Ben', 'Cy'];
    const users = [];
    for (const name of names) {
      const u = await w.user(name);
      await u.context.addInitScript(fakeScreenShare);
      await u.goto(w.server.url(`/meet/${room}`));
      users.push(u);
    }
    const [ana, ben, cy] = users;
    const others = (u) => users.filter((x) => x !== u);
    /** Runs check(u, o) for every u in `among` and every other person o of the call, at once. */
    const eachPair = (among, check) => Promise.all(among.flatMap((u) => others(u).map((o) => check(u, o.label))));

    await step('pre-join', async () => {
      for (const u of users) {
        assert.equal(await u.page.getByTestId('room-name').first().textContent(), room);
        await expectFramesGrow(u, '[data-testid="local-video"]');
      }
    });

    const join = async (u) => {
      await u.page.getByLabel('Your name').fill(u.label);
      await u.page.getByRole('button', { name: 'Join now' }).click();
      await waitForStatus(u, 'In call');
    };
    /** Waits until u shows n camera tiles, checks their captions, and returns them. */
    const tiles = async (u, n) => {
      const { labels } = await until(`${u.label}: ${n} camera tiles`, async () => {
        const labels = await u.page.evaluate(() =>
          [...document.querySelectorAll('figure[data-testid="tile"]')].map((f) => f.getAttribute('aria-label')),
        );
        return { ok: labels.length === n, labels };
      });
      const self = await tileState(u, tileOf(`${u.label} (You)`));
      assert.equal(self.caption, `${u.label} (You)`, `${u.label}: own tile`);
      return labels;
    };

    await step('Ana and Ben join, and see and hear each other', async () => {
      await join(ana);
      // Alone: the link to bring others, until someone comes.
      const alone = ana.page.getByTestId('alone');
      await alone.getByRole('heading', { name: "You're the only one here" }).waitFor({ timeout: 10_000 });
      assert.equal(await alone.locator('.people-url').textContent(), w.server.url(`/meet/${room}`));
      assert.equal(await alone.getByRole('button', { name: 'Copy link' }).count(), 1);
      await join(ben);
      for (const u of [ana, ben]) await tiles(u, 2);
      await until('Ana: the "only one here" card gone once Ben is in', async () => {
        const cards = await ana.page.getByTestId('alone').count();
        return { ok: cards === 0, cards };
      });
      await Promise.all([sees(ana, 'Ben'), sees(ben, 'Ana')]);
      await Promise.all([hears(ana, 'Ben'), hears(ben, 'Ana')]);
    });

    await step('Cy joins: everyone sees and hears the two others, and Ana and Ben play on', async () => {
      await join(cy);
      for (const u of users) {
        await tiles(u, 3);
        for (const o of others(u)) {
          const t = await tileState(u, tileOf(o.label));
          assert.equal(t.caption, o.label, `${u.label}: caption of ${o.label}'s tile`);
        }
      }
      // The tiles that played before Cy came (their connection renegotiated) go on.
      await Promise.all([sees(ana, 'Ben'), sees(ben, 'Ana')]);
      await eachPair(users, sees);
      await eachPair(users, hears);
    });

    await step('Cy turns the camera off', async () => {
      assert.equal(await pressed(cy, 'Camera'), true);
      await press(cy, 'Camera', false);
      for (const u of [ana, ben]) {
        await until(`${u.label}: Cy's tile shows initials and no video`, async () => {
          const t = await tileState(u, tileOf('Cy'));
          return { ok: t.found && !t.video && t.avatar === 'C', ...t };
        });
      }
      await until("Cy: her own tile without video while the camera is off", async () => {
        const own = await tileState(cy, tileOf('Cy (You)'));
        return { ok: own.found && !own.video, ...own };
      });
      // Ben stays on show for Ana while Cy's camera is off.
      await sees(ana, 'Ben');
    });

    await step('Ben mutes the microphone: Ana and Cy hear silence from him, and still each other', async () => {
      await press(ben, 'Microphone', false);
      for (const u of [ana, cy]) {
        await until(`${u.label}: Ben's tile shows the muted microphone`, async () => {
          const t = await tileState(u, tileOf('Ben'));
          return { ok: t.found && t.muted, ...t };
        });
        const a = await tileState(u, tileOf(u === ana ? 'Cy' : 'Ana'));
        assert.equal(a.muted, false, `${u.label}: a tile that is not muted shows the muted mark`);
      }
      await Promise.all([
        hearsNothingFrom(ana, 'Ben'),
        hearsNothingFrom(cy, 'Ben'),
        hears(ana, 'Cy'),
        hears(cy, 'Ana'),
      ]);
    });

    await step('Cy turns the camera on again, Ben unmutes: he is heard again', async () => {
      await press(cy, 'Camera', true);
      await press(ben, 'Microphone', true);
      await Promise.all([sees(ana, 'Cy'), sees(ben, 'Cy')]);
      for (const u of [ana, cy]) {
        await until(`${u.label}: Ben's tile without the muted mark`, async () => {
          const t = await tileState(u, tileOf('Ben'));
          return { ok: t.found && !t.muted, ...t };
        });
      }
      await Promise.all([hears(ana, 'Ben'), hears(cy, 'Ben')]);
    });

    const text = `Hello from Ana ${randomBytes(3).toString('hex')}`;
    await step('Ana sends a chat message', async () => {
      await press(ana, 'Chat', true);
      const panel = ana.page.getByTestId('chat-panel');
      await panel.getByLabel('Your message').fill(text);
      await panel.getByLabel('Your message').press('Enter');
      await until("Ana: her message in her chat, from 'You'", async () => {
        const items = await chatItems(ana);
        return { ok: items.some((i) => i.name === 'You' && i.text === text), items };
      });
      await until('Ana: the message box emptied after sending', async () => {
        const value = await panel.getByLabel('Your message').inputValue();
        return { ok: value === '', value };
      });
    });

    await step('Ben and Cy get the message', async () => {
      for (const u of [ben, cy]) {
        const chat = u.page.getByRole('button', { name: 'Chat', exact: true });
        await until(`${u.label}: one unread message on the Chat button`, async () => {
          const badge = await chat.locator('.ctl-badge').textContent({ timeout: 500 }).catch(() => null);
          const title = await chat.getAttribute('title');
          return { ok: badge === '1' && title === 'Chat (1 unread)', badge, title };
        });
        await press(u, 'Chat', true);
        await until(`${u.label}: Ana's message in the chat panel`, async () => {
          const items = await chatItems(u);
          return { ok: items.some((i) => i.name === 'Ana' && i.text === text), items };
        });
        await until(`${u.label}: the unread badge gone once the chat is open`, async () => {
          const badges = await chat.locator('.ctl-badge').count();
          const title = await chat.getAttribute('title');
          return { ok: badges === 0, badges, title };
        });
      }
      // Cy closes the chat again; Ana and Ben keep it open.
      await cy.page.getByTestId('chat-panel').getByRole('button', { name: 'Close' }).click();
      await until('Cy: chat panel closed', async () => {
        const open = await cy.page.getByTestId('chat-panel').count();
        return { ok: open === 0, open };
      });
    });

    await step('Ben shares a screen', async () => {
      await press(ben, 'Share screen', true);
      // Ben sees that he presents, not his own screen again.
      const banner = ben.page.getByTestId('presenting');
      await banner.getByRole('heading', { name: 'You are presenting' }).waitFor({ timeout: 10_000 });
      assert.equal(await ben.page.locator(screenTileOf('Ben')).count(), 0, 'Ben: his own screen is on show');
      for (const u of [ana, cy]) {
        const seen = await expectFramesGrow(u, `${screenTileOf('Ben')} video`, { within: 20_000 });
        // The canvas (16:9), not Ben's camera (4:3).
        assert.ok(
          seen.videoWidth / seen.videoHeight > 1.6,
          `${u.label}: the screen tile plays ${seen.videoWidth}×${seen.videoHeight}, not the 16:9 shared screen`,
        );
        const t = await tileState(u, screenTileOf('Ben'));
        assert.equal(t.caption, 'Ben (screen)');
      }
      // The people stay on show beside the screen: every camera plays on after the renegotiation.
      await eachPair(users, sees);
    });

    await step('screenshot of a three-person call', async () => {
      // Notices go by themselves after a few seconds; the picture shows the call.
      await until('Ana: no notices on show', async () => {
        const notices = await ana.page.locator('[data-testid="toasts"] .toast').allTextContents();
        return { ok: notices.length === 0, notices };
      });
      await w.screenshot(ana, 'meeting.png');
    });

    await step('Ben stops sharing', async () => {
      // The camera tiles move back to the grid: none of them is ever black while it waits for its first frame.
      await Promise.all(users.map(startBlackWatch));
      await ben.page.getByTestId('presenting').getByRole('button', { name: 'Stop presenting' }).click();
      await until('Ben: "Share screen" no longer pressed', async () => ({ ok: !(await pressed(ben, 'Share screen')) }));
      for (const u of [ana, cy, ben]) {
        await until(`${u.label}: Ben's screen tile gone, the grid back`, () =>
          u.page.evaluate(() => ({
            ok:
              document.querySelectorAll('[data-testid="screen-tile"]').length === 0 &&
              document.querySelector('[data-testid="grid"]') !== null,
            screens: document.querySelectorAll('[data-testid="screen-tile"]').length,
            tiles: document.querySelectorAll('figure[data-testid="tile"]').length,
          })),
        );
      }
      // Every camera plays on after the renegotiation.
      await eachPair(users, sees);
      for (const u of users) assert.deepEqual(await stopBlackWatch(u), [], `${u.label}: tiles were black while waiting for video`);
    });

    await step('a link in chat opens safely; markup stays text', async () => {
      const link = 'https://example.org/plan?x=1';
      const message = `see ${link}, and <b>this</b>`;
      const panel = ana.page.getByTestId('chat-panel');
      await panel.getByLabel('Your message').fill(message);
      await panel.getByLabel('Your message').press('Enter');
      const a = ben.page.getByTestId('chat-panel').locator(`a[href="${link}"]`);
      await a.waitFor({ timeout: 10_000 });
      assert.equal(await a.textContent(), link);
      assert.equal(await a.getAttribute('rel'), 'noopener noreferrer');
      assert.equal(await a.getAttribute('target'), '_blank');
      const last = (await chatItems(ben)).at(-1);
      assert.equal(last.text, message);
      assert.equal(await ben.page.locator('[data-testid="chat-panel"] .chat-text b').count(), 0, 'Ben: markup in chat became HTML');
    });

    await step('a phone-sized page', async () => {
      await cy.page.setViewportSize({ width: 390, height: 844 });
      await until('Cy: two columns on a phone', () =>
        cy.page.evaluate(() => {
          const grid = document.querySelector('[data-testid="grid"]');
          return { ok: grid?.dataset.cols === '2', cols: grid?.dataset.cols ?? null };
        }),
      );
      await Promise.all(others(cy).map((o) => sees(cy, o.label)));
      // Every control of the bar is on the screen.
      for (const name of ['Microphone', 'Camera', 'Share screen', 'Leave', 'Chat', 'Participants']) {
        const box = await cy.page.getByRole('button', { name, exact: true }).boundingBox();
        const inside = box && box.x >= 0 && box.x + box.width <= 390 && box.y >= 0 && box.y + box.height <= 844;
        assert.ok(inside, `Cy: "${name}" is not wholly on the phone screen: ${JSON.stringify(box)}`);
      }
      // Chat messages while her chat is closed: their notices cover no one's name on the phone either.
      const panel = ana.page.getByTestId('chat-panel');
      for (const words of ['One more thing', 'And another', 'Last one']) {
        await panel.getByLabel('Your message').fill(words);
        await panel.getByLabel('Your message').press('Enter');
      }
      await until('Cy: three notices on show', async () => {
        const n = await cy.page.locator('[data-testid="toasts"] .toast').count();
        return { ok: n >= 3, n };
      });
      await expectToastsCoverNoName(cy);
      await w.screenshot(cy, 'meeting-phone.png');

      // Ben presents: on the phone the strip of people beside the screen says that it holds more.
      await press(ben, 'Share screen', true);
      const more = cy.page.getByTestId('filmstrip-more');
      await waitForText(cy, more, /^\+\d+ more$/, 20_000, 'the "+N more" of the strip');
      await press(ben, 'Share screen', false);
    });
  }),
);
