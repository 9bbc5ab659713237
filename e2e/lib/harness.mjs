// One e2e test's world: a fresh meetd, a fresh Chromium, and the users the
// test opens. On failure it prints meetd's output and, for every user, the
// status line, the peer connections' states and the console log.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser, newUser } from './browser.mjs';
import { startServer } from './server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.resolve(here, '../artifacts');

export class World {
  constructor(server, browser) {
    this.server = server;
    this.browser = browser;
    this.users = [];
    this.previousLogs = [];
    this.closers = [];
  }

  /** Runs fn when the world closes, after the users' contexts: another browser's close, say. */
  onClose(fn) {
    this.closers.push(fn);
  }

  /** Opens a new user (own browser context); goes to path on meetd if given. options: { viewport, locale }. */
  async user(label, pagePath, options) {
    const u = await newUser(this.browser, label, options);
    this.users.push(u);
    if (pagePath !== undefined) await u.goto(this.server.url(pagePath));
    return u;
  }

  /** Saves a screenshot of user's page as e2e/artifacts/NAME. */
  async screenshot(user, name) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, name);
    await user.page.screenshot({ path: file });
    return file;
  }

  /** Stops meetd (if it still runs) and starts a new one on the same port. */
  async restartServer() {
    await this.server.stop();
    this.previousLogs.push(this.server.log());
    this.server = await startServer({ port: this.server.port });
    return this.server;
  }

  async report(err) {
    const parts = [`===== e2e failure: ${err?.message?.split('\n')[0]}`];
    for (const u of this.users) {
      parts.push(await u.diagnostics().catch((e) => `--- ${u.label}: diagnostics failed: ${e.message}`));
    }
    for (const log of this.previousLogs) parts.push(`--- output of an earlier meetd:\n${log || '(nothing)'}`);
    parts.push(...(await this.serverReport()));
    parts.push('===== end of e2e failure report');
    return parts.join('\n');
  }

  /** The report's part about meetd: its media metrics and its output. A world of several servers reports each. */
  async serverReport(server = this.server) {
    return [
      await this.mediaMetrics(server).catch((e) => `--- meetd /metrics: ${e.message}`),
      `--- meetd output (${server.origin}, exit ${JSON.stringify(server.exit)}):`,
      server.log() || '(nothing)',
    ];
  }

  /** meetd's media series from /metrics: where packets went, which layers subscribers get. */
  async mediaMetrics(server = this.server) {
    if (!server.running) return '--- meetd /metrics: meetd is not running';
    const res = await fetch(server.url('/metrics'), { signal: AbortSignal.timeout(2000) });
    const wanted = /^meetd_(rtp_|rtcp_|subscriber_video_layers|publish_connections|subscribe_connections|track_packets)/;
    const lines = (await res.text()).split('\n').filter((l) => wanted.test(l) && !/ 0$/.test(l));
    return `--- meetd /metrics (media series, non-zero):\n${lines.join('\n')}`;
  }

  async close() {
    await Promise.allSettled(this.users.map((u) => u.context.close()));
    await Promise.allSettled(this.closers.map((fn) => fn()));
    await this.browser.close().catch(() => {});
    await this.server.stop();
  }
}

/**
 * Wraps a test body: `test('name', e2e(async (w) => { ... }))`. Starts meetd
 * and Chromium, runs the body, prints the diagnostics if it throws, and always
 * cleans up.
 */
export function e2e(body) {
  return async (t) => {
    const server = await startServer();
    let browser;
    try {
      browser = await launchBrowser();
    } catch (err) {
      await server.stop();
      throw err;
    }
    await runWorld(new World(server, browser), body, t);
  };
}

/**
 * Runs a test body in world: prints the world's report if anything throws
 * (before first, then body), and always closes the world.
 */
export async function runWorld(world, body, t, before = async () => {}) {
  try {
    await before();
    await body(world, t);
  } catch (err) {
    const report = await world.report(err).catch((e) => `(could not collect diagnostics: ${e.message})`);
    console.error(report);
    throw err;
  } finally {
    await world.close();
  }
}

/** Runs one phase of a test, naming it in the error that ends it. */
export async function step(what, body) {
  try {
    return await body();
  } catch (err) {
    err.message = `${what}: ${err.message}`;
    throw err;
  }
}

export { sleep } from './wait.mjs';
