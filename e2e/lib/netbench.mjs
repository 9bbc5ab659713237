// The bad-network yardstick: a Chromium viewer behind a shaped link
// (lib/netem.mjs) watches a 720p camera, through meetd (a simulcast
// broadcast in three layers) or in a direct browser-to-browser call (the
// reference: the browsers' own congestion control, no server), while the
// link follows a profile over time. The viewer's inbound-rtp and candidate
// pair stats are sampled every 250 ms in the page, the emulator's queue
// every 250 ms, and meetd's estimate and layer for the viewer once a second;
// summarize() turns them into the figures of docs/performance.md.

import http from 'node:http';
import os from 'node:os';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, newUser } from './browser.mjs';
import { goLive } from './broadcast.mjs';
import { ShapedLink } from './netem.mjs';
import { startServer } from './server.mjs';
import { connectionStats, layersText, outboundVideo } from './stats.mjs';
import { sleep, waitUntil } from './wait.mjs';

/** The link before and around a profile: 10 ms each way, no bottleneck. */
const CLEAR = { down: { delayMs: 10 }, up: { delayMs: 10 } };
/** A home router's drop-tail queue: 30 KB (48 ms at 5 Mbit/s, 400 ms at 600 kbit/s). */
const QUEUE = 30_000;

/**
 * The profiles: steps of { at (s from the profile's start), down, up }. Each
 * lasts `seconds`; the viewer has warmed up on the clear link first. `step`
 * is when the change that the adaptation figures measure from happens.
 */
export const PROFILES = {
  'step-down': {
    title: '5 Mbit/s → 600 kbit/s at 10 s',
    seconds: 40,
    step: 10,
    steps: [
      { at: 0, down: { rateBps: 5e6, queueBytes: QUEUE, delayMs: 10 }, up: { delayMs: 10 } },
      { at: 10, down: { rateBps: 600e3, queueBytes: QUEUE, delayMs: 10 }, up: { delayMs: 10 } },
    ],
  },
  'step-up': {
    title: '600 kbit/s → 5 Mbit/s at 10 s',
    seconds: 40,
    step: 10,
    steps: [
      { at: 0, down: { rateBps: 600e3, queueBytes: QUEUE, delayMs: 10 }, up: { delayMs: 10 } },
      { at: 10, down: { rateBps: 5e6, queueBytes: QUEUE, delayMs: 10 }, up: { delayMs: 10 } },
    ],
  },
  loss: {
    title: '3% random loss to the viewer, 40 ms RTT',
    seconds: 40,
    step: 0,
    steps: [{ at: 0, down: { loss: 0.03, delayMs: 20 }, up: { delayMs: 20 } }],
  },
  jitter: {
    title: '150 ms RTT, ±30 ms jitter to the viewer',
    seconds: 40,
    step: 0,
    steps: [{ at: 0, down: { delayMs: 75, jitterMs: 30 }, up: { delayMs: 75 } }],
  },
  bufferbloat: {
    title: '1 Mbit/s, a 250 KB queue (2 s)',
    seconds: 40,
    step: 0,
    steps: [{ at: 0, down: { rateBps: 1e6, queueBytes: 250_000, delayMs: 10 }, up: { delayMs: 10 } }],
  },
};

/** The width of the full layer (the camera's 1280x720). */
export const FULL_WIDTH = 1280;
/** How long the viewer may take to reach the full layer on the clear link before a profile. */
const WARMUP_MS = 60_000;

// In the viewer's page: samples the received video and audio, and the
// selected candidate pair, every 250 ms into window.__nb.
function startSampling() {
  const out = [];
  window.__nb = out;
  // Gaps between frames shown, from the playing video's frame callbacks:
  // finer than the 250 ms samples.
  const gaps = { max: 0, over200: 0, over200Ms: 0, last: 0 };
  window.__nbGaps = gaps;
  const video = [...document.querySelectorAll('video')]
    .filter((v) => v.srcObject && v.srcObject.getVideoTracks().length)
    .sort((a, b) => b.videoWidth - a.videoWidth)[0];
  if (video && video.requestVideoFrameCallback) {
    const onFrame = (now) => {
      if (gaps.last) {
        const gap = now - gaps.last;
        gaps.max = Math.max(gaps.max, gap);
        if (gap > 200) {
          gaps.over200++;
          gaps.over200Ms += gap;
        }
      }
      gaps.last = now;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }
  const tick = async () => {
    const s = { t: Date.now(), gapMax: gaps.max };
    for (const pc of window.__e2ePeerConnections || []) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video' && (!s.v || r.bytesReceived > s.v.bytes)) {
          s.v = {
            bytes: r.bytesReceived ?? 0,
            packets: r.packetsReceived ?? 0,
            lost: r.packetsLost ?? 0,
            nacks: r.nackCount ?? 0,
            plis: r.pliCount ?? 0,
            keyframes: r.keyFramesDecoded ?? 0,
            decoded: r.framesDecoded ?? 0,
            dropped: r.framesDropped ?? 0,
            width: r.frameWidth ?? 0,
            freezes: r.freezeCount ?? 0,
            freezeS: r.totalFreezesDuration ?? 0,
            jbDelay: r.jitterBufferDelay ?? 0,
            jbCount: r.jitterBufferEmittedCount ?? 0,
          };
        } else if (r.type === 'inbound-rtp' && r.kind === 'audio' && (!s.a || r.bytesReceived > s.a.bytes)) {
          s.a = {
            bytes: r.bytesReceived ?? 0,
            concealed: r.concealedSamples ?? 0,
            samples: r.totalSamplesReceived ?? 0,
          };
        } else if (r.type === 'transport' && r.selectedCandidatePairId) {
          const pair = stats.get(r.selectedCandidatePairId);
          if (pair && pair.currentRoundTripTime !== undefined) s.rtt = pair.currentRoundTripTime * 1000;
        }
      });
    }
    out.push(s);
  };
  window.__nbTimer = setInterval(() => tick().catch(() => {}), 250);
}

async function launch(executablePath, origin) {
  // The server's address is a literal, but the resolver's rules map it too.
  const host = new URL(origin).hostname;
  const args = CHROMIUM_ARGS.map((a) => (a.startsWith('--host-resolver-rules=') ? `${a}, EXCLUDE ${host}` : a));
  return chromium.launch({
    executablePath,
    headless: true,
    args: [...args, `--unsafely-treat-insecure-origin-as-secure=${origin}`],
    timeout: 20_000,
  });
}

/** The viewer's widest inbound video frame now, 0 when none. */
async function viewerWidth(viewer) {
  return viewer.page.evaluate(async () => {
    let w = 0;
    for (const pc of window.__e2ePeerConnections || []) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'inbound-rtp' && r.kind === 'video' && (r.frameWidth ?? 0) > w) w = r.frameWidth;
      });
    }
    return w;
  });
}

// The direct call's page, served by this process on the server side.
const CALL_PAGE = `<!doctype html><html><body style="margin:0;background:#000">
<video id="v" autoplay muted playsinline style="width:1280px;height:720px"></video></body></html>`;

function servePage(host) {
  return new Promise((resolve, reject) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(CALL_PAGE);
    });
    srv.on('error', reject);
    srv.listen(0, host, () => resolve(srv));
  });
}

/** Waits for ICE gathering to end and returns the local description's SDP (in a page). */
const GATHERED = `new Promise((resolve) => {
  if (pc.iceGatheringState === 'complete') return resolve();
  pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
  setTimeout(resolve, 3000);
})`;

/** Sets up a direct call from `sender` (camera 1280x720, VP8) to `receiver`, signalled through page.evaluate. */
async function directCall(sender, receiver) {
  const offer = await sender.page.evaluate(async (gathered) => {
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: 1280, height: 720, frameRate: 30 },
      audio: true,
    });
    const pc = new RTCPeerConnection();
    window.pc = pc;
    for (const track of stream.getTracks()) {
      const tr = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      if (track.kind === 'video') {
        const vp8 = RTCRtpReceiver.getCapabilities('video').codecs.filter((c) =>
          /vp8|rtx|red|ulpfec/i.test(c.mimeType),
        );
        tr.setCodecPreferences(vp8);
      }
    }
    await pc.setLocalDescription(await pc.createOffer());
    await eval(gathered);
    return pc.localDescription.sdp;
  }, GATHERED);
  const answer = await receiver.page.evaluate(
    async ({ offer, gathered }) => {
      const pc = new RTCPeerConnection();
      window.pc = pc;
      pc.ontrack = (e) => {
        const v = document.getElementById('v');
        if (e.track.kind === 'video') {
          v.srcObject = e.streams[0];
          v.play().catch(() => {});
        }
      };
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      await eval(gathered);
      return pc.localDescription.sdp;
    },
    { offer, gathered: GATHERED },
  );
  await sender.page.evaluate((sdp) => window.pc.setRemoteDescription({ type: 'answer', sdp }), answer);
}

/**
 * Runs one profile for one mode ('meetd' or 'direct') and returns
 * { mode, profile, warmupMs, warmWidth, viewer: samples, link: samples,
 *   server: samples of meetd's estimate and layer, log }.
 * Everything it starts is stopped however it ends.
 */
export async function runProfile(mode, name, { log = () => {}, meetdArgs = [] } = {}) {
  const profile = PROFILES[name];
  if (!profile) throw new Error(`no profile ${name}; there are ${Object.keys(PROFILES).join(', ')}`);
  const link = await ShapedLink.open();
  const stop = [];
  let server;
  try {
    link.shape(CLEAR);
    let origin;
    const password = `nb${process.pid}${Date.now()}`;
    if (mode === 'meetd') {
      server = await startServer({
        host: link.serverIP,
        iceArgs: ['-ice-interfaces', link.devServer],
        extraArgs: ['-admin-password', password, ...meetdArgs],
      });
      // Should this process exit mid-run, meetd goes too.
      const kill = () => server.proc.kill('SIGKILL');
      process.once('exit', kill);
      stop.push(() => server.stop(), () => process.off('exit', kill));
      origin = server.origin;
    } else {
      const srv = await servePage(link.serverIP);
      stop.push(() => new Promise((r) => srv.close(r)));
      origin = `http://${link.serverIP}:${srv.address().port}`;
    }
    const nearBrowser = await launch(CHROMIUM, origin);
    stop.push(() => nearBrowser.close());
    const farBrowser = await launch(link.chromium, origin);
    stop.push(() => farBrowser.close());

    const big = { width: 1920, height: 1080 };
    const sender = await newUser(nearBrowser, 'streamer');
    const viewer = await newUser(farBrowser, 'viewer', { viewport: big });
    // Quality High: the viewer wants the full layer whatever its tile's
    // size. With Auto, a viewer that joins before the streamer's Chromium
    // sends its largest layer (its estimate ramps up first) is given the
    // half layer, the full one is paused as nobody wants it, and it never
    // comes: the profiles would measure the half layer.
    await viewer.context.addInitScript(() => localStorage.setItem('meetd.quality', 'high'));
    const t0 = Date.now();
    if (mode === 'meetd') {
      await goLive({ server }, sender, viewer);
    } else {
      await sender.goto(origin + '/');
      await viewer.goto(origin + '/');
      await directCall(sender, viewer);
    }
    let warmWidth = 0;
    try {
      await waitUntil(
        'the viewer on the full layer',
        async () => {
          warmWidth = await viewerWidth(viewer);
          return { ok: warmWidth >= FULL_WIDTH, width: warmWidth };
        },
        { within: WARMUP_MS, every: 500 },
      );
    } catch {
      const sent = await outboundVideo(sender).catch(() => []);
      const target = server ? JSON.stringify(await viewerOnServer(server, password).catch((e) => e.message)) : '';
      log(
        `${mode} ${name}: not on the full layer after ${WARMUP_MS / 1000} s (width ${warmWidth}); measuring anyway. ` +
          `Sent: ${layersText(sent)} ${target}`,
      );
    }
    const warmupMs = Date.now() - t0;
    // A few seconds on the full layer, so that estimates settle.
    await sleep(3000);

    await viewer.page.evaluate(startSampling);
    const serverSamples = [];
    let polling = mode === 'meetd';
    const poll = (async () => {
      while (polling) {
        try {
          serverSamples.push({ t: Date.now(), ...(await viewerOnServer(server, password)) });
        } catch {
          // one missed sample
        }
        await sleep(1000);
      }
    })();
    const start = Date.now();
    const linkFrom = link.samples.length;
    for (const step of profile.steps) {
      const wait = start + step.at * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      link.shape(step);
    }
    await sleep(Math.max(0, start + profile.seconds * 1000 - Date.now()));
    polling = false;
    await poll;
    // Bounded: a page that no longer answers must not hold the run.
    const viewerSamples = await Promise.race([
      viewer.page.evaluate(() => {
        clearInterval(window.__nbTimer);
        return window.__nb;
      }),
      sleep(15_000).then(() => {
        throw new Error('the viewer page did not give its samples within 15 s');
      }),
    ]);
    // The audio's fraction lost the streamer's browser was last told
    // (remote-inbound-rtp): through meetd, the worst of its viewers'.
    const senderAudioLost = await Promise.race([
      connectionStats(sender).then((all) =>
        all
          .flatMap((m) => [...m.values()])
          .filter((s) => s.type === 'remote-inbound-rtp' && s.kind === 'audio')
          .map((s) => s.fractionLost ?? null),
      ),
      sleep(5000).then(() => []),
    ]).catch(() => []);
    link.shape(CLEAR);
    return {
      load: os.loadavg()[0],
      senderAudioLost,
      mode,
      profile: name,
      start,
      warmupMs,
      warmWidth,
      viewer: viewerSamples,
      link: link.samples.slice(linkFrom),
      server: serverSamples,
      meetdLog: server ? server.log() : '',
    };
  } finally {
    // Each step bounded, so that a browser that hangs on close cannot hold the run.
    for (const f of stop.reverse()) {
      await Promise.race([Promise.resolve().then(f).catch(() => {}), sleep(10_000)]);
    }
    link.close();
  }
}

/** meetd's estimate and forwarded video layer for the one viewer, from /admin/stats. */
async function viewerOnServer(server, password) {
  const res = await fetch(server.url('/admin/stats?format=json'), {
    headers: { Authorization: 'Basic ' + Buffer.from(`admin:${password}`).toString('base64') },
    signal: AbortSignal.timeout(1000),
  });
  const { rooms } = await res.json();
  for (const r of rooms ?? []) {
    for (const p of r.participants ?? []) {
      const video = (p.receiving ?? []).find((d) => d.kind === 'video');
      if (video) return { estimate: p.estimate ?? 0, layer: video.layer ?? '', target: video.target ?? '' };
    }
  }
  return {};
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/**
 * The figures of one run: freezes, the longest stall of decoded frames, the
 * frame rate, the time on the full layer, the time to adapt after the
 * profile's step, the bottleneck's queueing delay, the jitter buffer, audio
 * concealment and the bitrate received.
 */
export function summarize(run) {
  const profile = PROFILES[run.profile];
  const vs = run.viewer.filter((s) => s.v);
  const first = vs[0];
  const last = vs.at(-1);
  const rel = (t) => (t - run.start) / 1000;
  const dur = (last.t - first.t) / 1000;
  const stepAt = run.start + profile.step * 1000;
  const d = (f) => f(last) - f(first);

  // The longest gap between two frames shown (from the first sample on).
  const stall = Math.round(last.gapMax ?? 0);
  const full = vs.filter((s) => s.v.width >= FULL_WIDTH).length / vs.length;

  // Time to adapt, from the step: for a step up, until the picture is
  // back, the same for both paths: the full layer decoded and the video's
  // bitrate at 90% of what it settles at (its median over the last 10 s),
  // holding for 2 s. A direct call never leaves the full size (its
  // encoder lowers the bitrate instead), so the bitrate is what it must
  // regain; meetd's viewer must regain the layer, whose bitrate the
  // streamer's encoder sets. Otherwise until the bottleneck's queue stays
  // under 100 ms for 2 s (0 when it never rose).
  let adapt = null;
  let fullAgain = null;
  const rates = videoRates(vs);
  if (run.profile === 'step-up') {
    const settled = pct(
      rates.filter((r) => r.t >= last.t - 10000).map((r) => r.kbps),
      50,
    );
    const back = (s) => s.v.width >= FULL_WIDTH && (rates.find((r) => r.t === s.t)?.kbps ?? 0) >= 0.9 * settled;
    adapt = settle(vs.filter((s) => s.t >= stepAt), back, stepAt);
    fullAgain = settle(vs.filter((s) => s.t >= stepAt), (s) => s.v.width >= FULL_WIDTH, stepAt);
  } else if (run.profile === 'step-down' || run.profile === 'bufferbloat') {
    adapt = settle(run.link.filter((s) => s.t >= stepAt), (s) => s.down.queueMs < 100, stepAt);
  }
  const queue = run.link.filter((s) => s.t >= run.start).map((s) => s.down.queueMs);
  const rtts = vs.map((s) => s.rtt).filter((x) => x !== undefined);
  const audio = run.viewer.filter((s) => s.a);
  const a0 = audio[0]?.a;
  const a1 = audio.at(-1)?.a;
  const linkFirst = run.link[0];
  const linkLast = run.link.at(-1);
  const est = run.server.map((s) => s.estimate).filter((x) => x);
  return {
    mode: run.mode,
    profile: run.profile,
    warmupS: run.warmupMs / 1000,
    load: run.load,
    warmWidth: run.warmWidth,
    // The width decoded at the profile's step, and at its end.
    stepWidth: (vs.find((s) => s.t >= stepAt) ?? last).v.width,
    endWidth: last.v.width,
    freezeMs: Math.round(d((s) => s.v.freezeS) * 1000),
    freezes: d((s) => s.v.freezes),
    stallMs: stall,
    fps: d((s) => s.v.decoded) / dur,
    dropped: d((s) => s.v.dropped),
    fullPct: Math.round(full * 100),
    adaptS: adapt === null ? null : Math.round(adapt * 10) / 10,
    // Step up: from the step until the full layer holds for 2 s.
    fullAgainS: fullAgain === null ? null : Math.round(fullAgain * 10) / 10,
    queueP95: pct(queue, 95),
    queueMax: queue.length ? Math.max(...queue) : null,
    rttP50: pct(rtts, 50),
    jbMs: d((s) => s.v.jbCount) ? (d((s) => s.v.jbDelay) / d((s) => s.v.jbCount)) * 1000 : null,
    concealPct: a1 && a1.samples > a0.samples ? ((a1.concealed - a0.concealed) / (a1.samples - a0.samples)) * 100 : null,
    kbps: (d((s) => s.v.bytes) * 8) / dur / 1000,
    lost: d((s) => s.v.lost),
    nacks: d((s) => s.v.nacks),
    linkDrops: linkFirst && linkLast ? linkLast.down.queueDrops - linkFirst.down.queueDrops : null,
    estimateKbps: est.length ? Math.round(pct(est, 50) / 1000) : null,
    widths: widthTimeline(vs, rel),
    layers: layerTimeline(run.server, rel),
    freezesAt: freezeTimeline(vs, rel),
  };
}

/**
 * "31.2s 214ms (2 PLI, 1 keyframe, 3 lost)": each freeze the viewer counted,
 * when (the sample it showed in), how long, and what the viewer asked for
 * and got in the second before it.
 */
function freezeTimeline(vs, rel) {
  const out = [];
  for (let i = 1; i < vs.length; i++) {
    const s = vs[i];
    const p = vs[i - 1];
    if (s.v.freezes <= p.v.freezes) continue;
    const a = vs.find((x) => x.t >= s.t - 1000) ?? p;
    const ms = Math.round((s.v.freezeS - p.v.freezeS) * 1000);
    out.push(
      `${rel(s.t).toFixed(1)}s ${ms}ms (${s.v.plis - a.v.plis} PLI, ${s.v.keyframes - a.v.keyframes} keyframe, ` +
        `${s.v.lost - a.v.lost} lost, ${s.v.nacks - a.v.nacks} NACK, width ${s.v.width})`,
    );
  }
  return out.join('; ');
}

/** The video's bitrate received over the second before each sample, kbit/s. */
function videoRates(vs) {
  const out = [];
  let j = 0;
  for (const s of vs) {
    while (j < vs.length && vs[j].t < s.t - 1000) j++;
    const a = vs[j];
    if (a && s.t - a.t >= 750) out.push({ t: s.t, kbps: ((s.v.bytes - a.v.bytes) * 8) / (s.t - a.t) });
  }
  return out;
}

/** Seconds from `from` until ok() holds for 2 s of samples (null: never). */
function settle(samples, ok, from) {
  let since = null;
  for (const s of samples) {
    if (!ok(s)) {
      since = null;
      continue;
    }
    if (since === null) since = s.t;
    if (s.t - since >= 2000) return (since - from) / 1000;
  }
  return null;
}

/** "0.0s 1280 → 10.8s 640 → …": the decoded width as it changed. */
function widthTimeline(vs, rel) {
  const out = [];
  let w = -1;
  for (const s of vs) {
    if (s.v.width !== w) out.push(`${rel(s.t).toFixed(1)}s ${s.v.width}`);
    w = s.v.width;
  }
  return out.join(' → ');
}

function layerTimeline(samples, rel) {
  const out = [];
  let l = null;
  for (const s of samples) {
    if (s.layer === undefined || s.layer === l) continue;
    out.push(`${rel(s.t).toFixed(0)}s ${s.layer || '-'}${s.estimate ? `@${Math.round(s.estimate / 1000)}k` : ''}`);
    l = s.layer;
  }
  return out.join(' → ');
}

/** The figures of runs as a Markdown table. */
export function table(rows) {
  const f = (x, digits = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));
  const head =
    '| profile | path | freeze ms (n) | longest stall ms | fps | full layer % | adapt s | full layer again s | queue p95 / max ms | RTT p50 ms | jitter buffer ms | audio concealed % | kbit/s | lost | meetd estimate kbit/s | load |';
  const sep = '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const lines = rows.map(
    (r) =>
      `| ${r.profile} | ${r.mode} | ${r.freezeMs} (${r.freezes}) | ${r.stallMs} | ${f(r.fps)} | ${r.fullPct} | ${f(r.adaptS, 1)} | ${f(r.fullAgainS, 1)} | ${f(r.queueP95)} / ${f(r.queueMax)} | ${f(r.rttP50)} | ${f(r.jbMs)} | ${f(r.concealPct, 2)} | ${f(r.kbps)} | ${r.lost} | ${f(r.estimateKbps)} | ${f(r.load, 1)} |`,
  );
  return [head, sep, ...lines].join('\n');
}
