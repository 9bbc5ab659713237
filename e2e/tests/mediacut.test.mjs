// The media path is cut under a live broadcast while the WebSocket stays up:
// meetd runs with all media on one UDP port (-udp-port, no ICE-TCP, no
// TURN), and iptables drops that port on loopback until both pages say
// Reconnecting… and the streamer has restarted ICE (about 7 s: Chromium calls
// a silent path disconnected after about 5 s and the streamer restarts ICE on
// its publish connection 2 s later; meetd restarts the viewer's subscribe
// connection 2 s after its own 3 s). Once the rules are gone the viewer must
// play again (its video's frames advancing) within 10 s, without a reload,
// and the streamer must be Live, its publish connection mended by that ICE
// restart rather than a rejoin.
//
// Needs root and iptables (scripts/ensure-net-tools.sh); skipped without
// them (saying why), failed under CI (CI=1 or CI=true). The rules match only lo and meetd's port, and
// are removed however the test ends.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goLive, LIVE, RECONNECTING, VIDEO } from '../lib/broadcast.mjs';
import { waitForStatus } from '../lib/checks.mjs';
import { needs } from '../lib/ci.mjs';
import { firewallProblem, freeUdpPort, UdpBlock } from '../lib/firewall.mjs';
import { e2e, sleep } from '../lib/harness.mjs';
import { expectFramesGrow, FRAMES } from '../lib/media.mjs';
import { startServer } from '../lib/server.mjs';
import { connectionStats } from '../lib/stats.mjs';
import { waitUntil } from '../lib/wait.mjs';

/** The longest the port stays blocked, waiting for both pages to say Reconnecting… and the streamer to restart ICE. */
const CUT_MAX_MS = 30_000;
/** The requirement: frames advancing again within this long of the rules going. */
const RECOVERY_MS = 10_000;
/** How long to keep watching past that, so a slow recovery is measured rather than just failed. */
const GIVE_UP_MS = 16_000;

const firewall = needs('the iptables test', firewallProblem());

/** Counts the messages a page sends and receives on its WebSockets, by type. */
function countMessages(user) {
  const seen = { sent: {}, received: {} };
  const count = (where, payload) => {
    if (typeof payload !== 'string') return;
    try {
      const type = JSON.parse(payload).type;
      where[type] = (where[type] ?? 0) + 1;
    } catch {
      // not ours
    }
  };
  user.page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => count(seen.sent, payload));
    ws.on('framereceived', ({ payload }) => count(seen.received, payload));
  });
  return seen;
}

/** Samples the page every 100 ms: status line, peer connection states, frames shown by the video. */
function record(user, videoSelector = null) {
  return user.page.evaluate((videoSelector) => {
    const rec = { samples: [] };
    const tick = () => {
      const el = document.querySelector('[data-testid="status"]');
      const v = videoSelector ? document.querySelector(videoSelector) : null;
      rec.samples.push({
        t: Date.now(),
        status: el ? el.textContent.trim() : null,
        pcs: (window.__e2ePeerConnections || []).map((pc) => pc.connectionState).join(','),
        // currentTime of a MediaStream goes on without frames; the frame count does not.
        frames: v ? v.getVideoPlaybackQuality().totalVideoFrames : null,
      });
    };
    tick();
    rec.timer = setInterval(tick, 100);
    window.__cutRec = rec;
  }, videoSelector);
}

function recorded(user) {
  return user.page.evaluate(() => window.__cutRec?.samples ?? null).catch(() => null);
}

const fmt = (ms) => `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(1)}s`;

/** Status and peer connection changes relative to t0: "+0.0s Live [connected] → +3.1s Reconnecting… [disconnected]". */
function timeline(samples, t0) {
  const out = [];
  let last = '';
  for (const s of samples ?? []) {
    const now = `${s.status} [${s.pcs}]`;
    if (now !== last) out.push(`${fmt(s.t - t0)} ${now}`);
    last = now;
  }
  return out.join(' → ') || '(nothing recorded)';
}

/** The first sample at or after `from` whose frame count is FRAMES past the count at `from`, or null. */
function advancingAt(samples, from) {
  const start = samples.find((s) => s.t >= from);
  if (!start || start.frames === null) return null;
  return samples.find((s) => s.t >= from && s.frames >= start.frames + FRAMES) ?? null;
}

/** meetd's log lines about connections, ICE restarts and layers from `since` on, times relative to it. */
function meetdEvents(log, since) {
  const out = [];
  for (const line of log.split('\n')) {
    const t = Date.parse(/time=(\S+)/.exec(line)?.[1] ?? '');
    if (!(t >= since) || !/connection state|ICE restart|simulcast layers|layer cap/.test(line)) continue;
    const msg = line.replace(/^.*?msg=/, '').replace(/ (room|kind|participant)=\S+/g, '');
    out.push(`    ${fmt(t - since)} ${msg}`);
  }
  return out.join('\n') || '    (nothing)';
}

/** The UDP ports of the remote side of each open peer connection's selected candidate pair. */
async function mediaPorts(user) {
  const out = [];
  for (const stats of await connectionStats(user)) {
    for (const s of stats.values()) {
      if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
      const pair = stats.get(s.selectedCandidatePairId);
      const remote = pair && stats.get(pair.remoteCandidateId);
      if (remote) out.push(`${remote.protocol}:${remote.port}`);
    }
  }
  return out;
}

test(
  'the media path is cut under a live broadcast: the viewer plays again and the streamer is Live, without a reload',
  firewall.options,
  e2e(async (w) => {
    firewall.check();
    const port = await freeUdpPort();
    await w.server.stop();
    w.server = await startServer({ extraArgs: ['-udp-port', String(port)] });

    const streamer = await w.user('streamer');
    const viewer = await w.user('viewer');
    const msgs = new Map([
      [streamer, countMessages(streamer)],
      [viewer, countMessages(viewer)],
    ]);
    await goLive(w, streamer, viewer);

    // All media goes over the one port: cutting it cuts everything.
    for (const u of [streamer, viewer]) {
      const ports = await mediaPorts(u);
      assert.deepEqual(ports, [`udp:${port}`], `${u.label}: media not on udp:${port} alone: ${JSON.stringify(ports)}`);
    }
    const before = new Map([...msgs].map(([u, m]) => [u, structuredClone(m)]));
    const sent = (u, type) => (msgs.get(u).sent[type] ?? 0) - (before.get(u).sent[type] ?? 0);
    const got = (u, type) => (msgs.get(u).received[type] ?? 0) - (before.get(u).received[type] ?? 0);

    await record(streamer);
    await record(viewer, VIDEO);
    const cut = new UdpBlock(port);
    let cutAt;
    let backAt;
    try {
      cutAt = Date.now();
      cut.block();
      // Blocked until the pages notice and the streamer mends its side: as long as that takes.
      await waitUntil(
        'with the port blocked, both pages saying Reconnecting… and the streamer sending an ICE restart offer',
        async () => {
          const [s, v] = await Promise.all([recorded(streamer), recorded(viewer)]);
          const said = (r) => !!r?.some((x) => x.status === RECONNECTING);
          const offers = sent(streamer, 'offer');
          return { ok: said(s) && said(v) && offers >= 1, streamer: said(s), viewer: said(v), offers };
        },
        { within: CUT_MAX_MS, every: 200 },
      );
    } finally {
      cut.unblock();
      backAt = Date.now();
    }

    // Watch until the viewer plays again and both say Live, or the time is up.
    let s = null;
    let v = null;
    while (Date.now() < backAt + GIVE_UP_MS) {
      [s, v] = await Promise.all([recorded(streamer), recorded(viewer)]);
      if (!s || !v) break;
      const last = (x) => x.at(-1)?.status;
      if (advancingAt(v, backAt) && last(s) === LIVE && last(v) === LIVE) break;
      await sleep(200);
    }
    assert.ok(s && v, 'a page lost its recorder: was it reloaded?');
    const stalled = v.filter((x) => x.t >= cutAt + 2000 && x.t <= backAt);
    const moving = advancingAt(v, backAt);
    const where =
      `port udp:${port} blocked ${fmt(0)} → ${fmt(backAt - cutAt)}\n` +
      `  streamer: ${timeline(s, cutAt)}\n` +
      `  viewer:   ${timeline(v, cutAt)}\n` +
      `  viewer frames: ${stalled[0]?.frames} → ${stalled.at(-1)?.frames} while blocked (from +2s), ` +
      `${moving ? `${FRAMES} more at ${fmt(moving.t - cutAt)}, ${moving.t - backAt} ms after unblocking` : 'not advancing again'}\n` +
      `  streamer sent ${sent(streamer, 'offer')} offer(s), ${sent(streamer, 'join')} join(s); ` +
      `viewer got ${got(viewer, 'offer')} offer(s), sent ${sent(viewer, 'restart')} restart(s), ${sent(viewer, 'join')} join(s)`;
    console.log(where);
    console.log(`  meetd since the cut:\n${meetdEvents(w.server.log(), cutAt)}`);

    // The cut was real: the viewer's picture stopped, and it said so.
    assert.ok(stalled.length > 0 && stalled.at(-1).frames - stalled[0].frames < FRAMES, `viewer: frames kept coming while blocked\n${where}`);
    for (const [u, r] of [
      [streamer, s],
      [viewer, v],
    ]) {
      assert.ok(r.some((x) => x.status === RECONNECTING), `${u.label}: never showed ${RECONNECTING}\n${where}`);
    }
    const bad = [...s, ...v].find((x) => /^Error/.test(x.status ?? '') || x.status === 'Preview');
    assert.equal(bad, undefined, `a page showed ${JSON.stringify(bad?.status)}\n${where}`);

    // The picture comes back in time, and both pages say Live.
    assert.ok(moving, `viewer: frames not advancing within ${GIVE_UP_MS} ms of unblocking\n${where}`);
    assert.ok(moving.t - backAt <= RECOVERY_MS, `viewer: playing again only ${moving.t - backAt} ms after unblocking\n${where}`);
    await waitForStatus(streamer, LIVE);
    await waitForStatus(viewer, LIVE);
    await expectFramesGrow(viewer, VIDEO);

    // Mended in place: the streamer restarted ICE with a new offer and never
    // rejoined; neither page reloaded.
    assert.ok(sent(streamer, 'offer') >= 1, `streamer: no ICE restart offer\n${where}`);
    assert.equal(sent(streamer, 'join'), 0, `streamer: rejoined instead of restarting ICE\n${where}`);
    for (const u of [streamer, viewer]) {
      assert.equal(await u.page.evaluate(() => window.__marker), 1, `${u.label}: the page was reloaded`);
    }
    assert.match(w.server.log(), /ICE restart.*pc=publish/, 'meetd logged no ICE restart of the publish connection');
  }),
);
