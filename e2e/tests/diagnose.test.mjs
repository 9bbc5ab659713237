// /diagnose checks, from Chromium on loopback, which ways to meetd work.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, startServer } from '../lib/server.mjs';
import { e2e } from '../lib/harness.mjs';

/** Waits until every line is checked; returns { id: [outcome, text] }. */
async function results(user) {
  await user.page.waitForFunction(
    () => {
      const lines = [...document.querySelectorAll('[data-testid^="check-"]')];
      return lines.length === 7 && lines.every((l) => l.dataset.outcome !== 'running');
    },
    null,
    { timeout: 30_000, polling: 250 },
  );
  return user.page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('[data-testid^="check-"]')].map((l) => [
        l.dataset.testid.slice('check-'.length),
        [l.dataset.outcome, l.textContent],
      ]),
    ),
  );
}

test(
  '/diagnose: WebSocket and UDP work; TCP and TURN are not offered',
  e2e(async (w) => {
    const u = await w.user('diagnose', '/diagnose');
    const r = await results(u);
    const text = JSON.stringify(r, null, 1);
    assert.equal(r.websocket[0], 'ok', text);
    assert.equal(r.candidates[0], 'ok', text);
    assert.equal(r.udp[0], 'ok', text);
    for (const id of ['tcp', 'turn-udp', 'turn-tcp', 'turn-tls']) {
      assert.equal(r[id][0], 'absent', `${id}: ${text}`);
      assert.match(r[id][1], /not offered by this server/, `${id}: ${text}`);
    }
    assert.match(await u.status(), /^meetd works from here: media flows over UDP\.$/);
    // In the person's words: no flags on the lines, the missing relay explained once.
    const lines = await u.page.locator('.diagnose-list').innerText();
    assert.doesNotMatch(lines, /-turn|-tcp-port|-udp-port/, 'flags on the lines');
    assert.equal((lines.match(/does not offer a relay/g) ?? []).length, 1, lines);
    // The operator's hints are there, folded away.
    const hints = u.page.getByTestId('operator-hints');
    assert.equal(await hints.evaluate((d) => d.open), false);
    assert.match(await hints.textContent(), /For the server's administrator.*-tcp-port.*-turn/s);
    await w.screenshot(u, 'diagnose.png');
  }),
);

test(
  '/diagnose with -turn and -tcp-port: TCP, TURN over UDP and over TCP work',
  e2e(async (w) => {
    await w.server.stop();
    w.server = await startServer({
      extraArgs: ['-turn', '-turn-port', String(await freePort()), '-tcp-port', String(await freePort())],
    });
    const u = await w.user('diagnose-turn', '/diagnose');
    const r = await results(u);
    const text = JSON.stringify(r, null, 1);
    for (const id of ['websocket', 'candidates', 'udp', 'tcp', 'turn-udp', 'turn-tcp']) {
      assert.equal(r[id][0], 'ok', `${id}: ${text}`);
    }
    // The candidates line gathers with the TURN credential of its own join, which works while that
    // participant is connected.
    assert.match(r.candidates[1], /relay \(udp\)/, text);
    assert.match(r['turn-udp'][1], /via TURN \(udp\)/, text);
    assert.match(r['turn-tcp'][1], /via TURN \(tcp\)/, text);
    // TURN over TLS needs HTTPS.
    assert.equal(r['turn-tls'][0], 'absent', text);
    await w.screenshot(u, 'diagnose-turn.png');
  }),
);
