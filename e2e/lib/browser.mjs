// Chromium for the browser tests: launch flags that make WebRTC work headless
// on loopback, one browser context per simulated user, and a record of every
// RTCPeerConnection a page creates (so tests can read getStats()).

import { accessSync, constants } from 'node:fs';
import { chromium } from 'playwright-core';

/** The Chromium under test: $CHROMIUM, or Debian's /usr/bin/chromium. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A fake camera (green test pattern) and microphone (a beep), allowed without asking.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  // Offer 127.0.0.1 candidates, and real addresses instead of mDNS names on
  // pages that never asked for the camera (the viewers).
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  // Keep every lookup on this machine: the original clients name a public
  // STUN server, which must not be contacted from a test.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  // Timers and media of pages in background contexts must not be throttled.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Launches headless Chromium; fails with what to do when it is missing. */
export async function launchBrowser() {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium not found or not executable at ${CHROMIUM}. ` +
        'Install it (scripts/ensure-chromium.sh, or apt-get install chromium) or set CHROMIUM=/path/to/chromium.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 20_000 });
}

// Runs in every page before its own scripts: records each peer connection.
export function recordPeerConnections() {
  const Original = window.RTCPeerConnection;
  if (!Original || window.__e2ePeerConnections) return;
  const created = [];
  window.__e2ePeerConnections = created;
  class RecordedPeerConnection extends Original {
    constructor(...args) {
      super(...args);
      created.push(this);
    }
  }
  window.RTCPeerConnection = RecordedPeerConnection;
  if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = RecordedPeerConnection;
}

/** One simulated person: a browser context of its own with one page. */
export class User {
  constructor(label, context, page) {
    this.label = label;
    this.context = context;
    this.page = page;
    this.logs = [];
    const stamp = () => new Date().toISOString().slice(11, 23);
    page.on('console', (m) => this.logs.push(`${stamp()} [${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.logs.push(`${stamp()} [pageerror] ${e.message}`));
    page.on('crash', () => this.logs.push(`${stamp()} [crash] the page crashed`));
    page.on('websocket', (ws) => {
      this.logs.push(`${stamp()} [websocket] open ${ws.url()}`);
      ws.on('close', () => this.logs.push(`${stamp()} [websocket] closed ${ws.url()}`));
      ws.on('socketerror', (e) => this.logs.push(`${stamp()} [websocket] error ${e}`));
    });
  }

  async goto(url) {
    await this.page.goto(url, { waitUntil: 'load', timeout: 15_000 });
  }

  /** The page's status line (data-testid="status"), or null if it has none. */
  async status() {
    return this.page
      .getByTestId('status')
      .first()
      .textContent({ timeout: 1000 })
      .then((t) => t?.trim() ?? null)
      .catch(() => null);
  }

  /** States of the peer connections this page created, oldest first. */
  async peerStates() {
    return this.page
      .evaluate(() =>
        (window.__e2ePeerConnections || []).map((pc) => ({
          connection: pc.connectionState,
          ice: pc.iceConnectionState,
          gathering: pc.iceGatheringState,
          signaling: pc.signalingState,
        })),
      )
      .catch((e) => `unavailable (${e.message.split('\n')[0]})`);
  }

  /**
   * What each open peer connection sends and receives, per RTP stream:
   * "out video f 1280x720 packets=… frames=… keyframes=… pli=… limit=…", "in audio packets=… energy=…".
   */
  async rtpSummary() {
    return this.page
      .evaluate(async () => {
        const out = [];
        for (const pc of window.__e2ePeerConnections || []) {
          if (pc.connectionState === 'closed') continue;
          const lines = [];
          (await pc.getStats()).forEach((s) => {
            if (s.type === 'outbound-rtp') {
              const size = s.frameWidth ? ` ${s.frameWidth}x${s.frameHeight}` : '';
              const frames =
                s.kind === 'video' ? ` frames=${s.framesEncoded ?? 0} keyframes=${s.keyFramesEncoded ?? '?'} pli=${s.pliCount ?? '?'}` : '';
              const limit = s.qualityLimitationReason ? ` limit=${s.qualityLimitationReason}` : '';
              lines.push(`out ${s.kind}${s.rid ? ` ${s.rid}` : ''}${size} ssrc=${s.ssrc} packets=${s.packetsSent}${frames}${limit}`);
            } else if (s.type === 'inbound-rtp') {
              const more =
                s.kind === 'video'
                  ? ` frames=${s.framesDecoded ?? 0} keyframes=${s.keyFramesDecoded ?? '?'} pli=${s.pliCount ?? '?'}`
                  : ` energy=${(s.totalAudioEnergy ?? 0).toFixed(3)}`;
              lines.push(`in ${s.kind} packets=${s.packetsReceived}${more}`);
            }
          });
          out.push(lines);
        }
        return out;
      })
      .catch((e) => `unavailable (${e.message.split('\n')[0]})`);
  }

  /** Everything worth printing when a test fails. */
  async diagnostics() {
    const lines = [`--- ${this.label}: ${this.page.url()}`];
    lines.push(`status: ${JSON.stringify(await this.status())}`);
    lines.push(`peer connections: ${JSON.stringify(await this.peerStates())}`);
    const video = await this.page
      .evaluate(() =>
        [...document.querySelectorAll('video')].map((v) => ({
          id: v.id || v.dataset.testid || null,
          readyState: v.readyState,
          videoWidth: v.videoWidth,
          currentTime: v.currentTime,
          paused: v.paused,
          muted: v.muted,
          tracks: v.srcObject ? v.srcObject.getTracks().map((t) => `${t.kind}:${t.readyState}`) : null,
        })),
      )
      .catch((e) => `unavailable (${e.message.split('\n')[0]})`);
    lines.push(`video elements: ${JSON.stringify(video)}`);
    lines.push(`rtp: ${JSON.stringify(await this.rtpSummary())}`);
    lines.push(`console (${this.logs.length} lines):`);
    lines.push(...this.logs.slice(-60).map((l) => `  ${l}`));
    return lines.join('\n');
  }
}

/** Opens a new browser context and page for a user called label; locale: the browser's language (e.g. 'ko-KR'). */
export async function newUser(browser, label, { viewport = { width: 1280, height: 720 }, locale } = {}) {
  const context = await browser.newContext({ viewport, ...(locale ? { locale } : {}) });
  await context.addInitScript(recordPeerConnections);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return new User(label, context, page);
}
