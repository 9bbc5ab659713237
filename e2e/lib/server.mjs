// Starts the real meetd binary on a free loopback port for one test.

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The binary under test: $MEETD_BIN, or bin/meetd at the top of the repository. */
export const MEETD_BIN = process.env.MEETD_BIN || path.resolve(here, '../../bin/meetd');

function checkBinary() {
  try {
    accessSync(MEETD_BIN, constants.X_OK);
  } catch {
    throw new Error(
      `meetd binary not found or not executable at ${MEETD_BIN}. ` +
        'Build it first (make build, or run the browser tests with make test-e2e), or set MEETD_BIN.',
    );
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A running meetd. `url` is its origin (http://127.0.0.1:PORT), `log()` is
 * everything it printed so far.
 */
export class MeetdServer {
  constructor(proc, port, host = '127.0.0.1') {
    this.proc = proc;
    this.port = port;
    this.origin = `http://${host}:${port}`;
    this.wsUrl = `ws://${host}:${port}/ws`;
    this.lines = [];
    this.exit = null;
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    let partial = '';
    const take = (chunk) => {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop();
      this.lines.push(...parts);
    };
    proc.stdout.on('data', take);
    proc.stderr.on('data', take);
    proc.on('exit', () => {
      if (partial) this.lines.push(partial);
      partial = '';
    });
  }

  url(p = '/') {
    return this.origin + p;
  }

  log() {
    return this.lines.join('\n');
  }

  /**
   * The value of one series of meetd's /metrics, named as it is printed there
   * (`meetd_participants{role="audience"}`); null when it is not there.
   */
  async metric(series) {
    const res = await fetch(this.url('/metrics'), { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
    for (const line of (await res.text()).split('\n')) {
      if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
    }
    return null;
  }

  get running() {
    return this.exit === null;
  }

  /** Kills meetd at once (SIGKILL), as a crash or a pulled plug would. */
  async kill() {
    if (this.running) this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Stops meetd: SIGTERM, then SIGKILL if it has not gone after 3 s. */
  async stop() {
    if (!this.running) return this.exit;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
    return this.exit;
  }
}

/**
 * Starts meetd (on a free port unless port is given) and waits until /healthz
 * answers. host is the address it serves on; iceArgs replace the loopback ICE
 * settings when media goes another way (a test network's device).
 */
export async function startServer({
  port = 0,
  host = '127.0.0.1',
  iceArgs = ['-ice-loopback', '-ice-interfaces', 'lo'],
  extraArgs = [],
  timeoutMs = 10_000,
} = {}) {
  checkBinary();
  if (!port) port = await freePort();
  const args = ['-addr', `${host}:${port}`, ...iceArgs, ...extraArgs];
  const proc = spawn(MEETD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const server = new MeetdServer(proc, port, host);
  const spawnError = new Promise((resolve) => proc.on('error', resolve));

  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  while (Date.now() < deadline) {
    const err = await Promise.race([spawnError, sleep(0).then(() => null)]);
    if (err) throw new Error(`could not start ${MEETD_BIN}: ${err.message}`);
    if (!server.running) {
      throw new Error(
        `meetd exited before it answered /healthz (${JSON.stringify(server.exit)}). Its output:\n${server.log()}`,
      );
    }
    try {
      const res = await fetch(server.url('/healthz'), { signal: AbortSignal.timeout(1000) });
      if (res.ok) return server;
      lastError = new Error(`/healthz answered ${res.status}`);
    } catch (e) {
      lastError = e;
    }
    await sleep(50);
  }
  await server.stop();
  throw new Error(
    `meetd did not answer ${server.url('/healthz')} within ${timeoutMs} ms (${lastError?.message}). Its output:\n${server.log()}`,
  );
}
