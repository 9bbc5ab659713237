// A shaped link between this machine and a viewer: a network namespace for
// the viewer, joined to this one by bin/netshape, a user-space emulator of
// a bad link (loss, a rate with a queue, delay and jitter; this kernel has
// no netem). The server side (meetd, the streamer, the calling page) stays
// in this namespace on SERVER_IP; the viewer's Chromium runs in the
// namespace on VIEWER_IP, and every packet between them, media, RTCP and
// the page's own HTTP and WebSocket, goes through the emulator.
//
// Needs root and ip(8). Everything is removed when close() is called, on
// exit, and on SIGINT/SIGTERM; the emulator's devices go with its process,
// and namespaces left by a run that was killed are removed by the next.

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The emulator: $NETSHAPE_BIN, or bin/netshape at the top of the repository. */
export const NETSHAPE_BIN = process.env.NETSHAPE_BIN || path.resolve(here, '../../bin/netshape');

const PREFIX = 'meetd-nb-';

function ip(args, ns) {
  const full = ns ? ['-n', ns, ...args] : args;
  return execFileSync('ip', full, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Why a shaped link cannot be made here, or null when it can. */
export function netemProblem() {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'needs root to make network namespaces';
  }
  try {
    ip(['netns', 'list']);
  } catch {
    return 'needs ip(8) with network namespaces (iproute2)';
  }
  if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun';
  if (!existsSync(NETSHAPE_BIN)) return `needs ${NETSHAPE_BIN} (make bin/netshape)`;
  return null;
}

/** Removes namespaces of earlier runs whose process is gone. */
function removeStale() {
  for (const line of ip(['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0];
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length).split('-')[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      // gone
    }
    if (!alive) {
      try {
        ip(['netns', 'del', name]);
      } catch {
        // someone else removed it
      }
    }
  }
}

let made = 0;

/**
 * One viewer namespace and its emulated link. shape() changes the link;
 * samples are the emulator's counts every 250 ms:
 * { t, down: { queueMs, packets, bytes, lossDrops, queueDrops }, up: {...} }.
 */
export class ShapedLink {
  static async open() {
    removeStale();
    const n = made++;
    const id = `${process.pid}-${n}`;
    const link = new ShapedLink(id, n);
    try {
      await link.start();
    } catch (err) {
      link.close();
      throw err;
    }
    return link;
  }

  constructor(id, n) {
    this.ns = PREFIX + id;
    const tag = `${process.pid % 100000}${n}`.slice(-6);
    this.devServer = `nb${tag}s`;
    this.devViewer = `nb${tag}v`;
    const sub = (process.pid + n) % 200;
    this.serverIP = `10.77.${sub}.1`;
    this.viewerIP = `10.78.${sub}.2`;
    this.samples = [];
    this.closed = false;
    this.onExit = () => this.close();
    this.onSignal = (sig) => {
      this.close();
      process.kill(process.pid, sig);
    };
  }

  async start() {
    process.once('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    this.proc = spawn(NETSHAPE_BIN, ['-a', this.devServer, '-b', this.devViewer], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.stderr = '';
    this.proc.stderr.on('data', (d) => (this.stderr += d.toString()));
    const ready = new Promise((resolve, reject) => {
      let partial = '';
      this.proc.stdout.on('data', (chunk) => {
        partial += chunk.toString();
        const lines = partial.split('\n');
        partial = lines.pop();
        for (const line of lines) {
          if (line === 'READY') resolve();
          else if (line.startsWith('{')) this.samples.push(JSON.parse(line));
        }
      });
      this.proc.on('exit', (code) => reject(new Error(`netshape exited (${code}): ${this.stderr}`)));
      this.proc.on('error', reject);
    });
    await Promise.race([ready, new Promise((_, rej) => setTimeout(() => rej(new Error('netshape: no READY in 5 s')), 5000))]);

    ip(['netns', 'add', this.ns]);
    ip(['link', 'set', this.devViewer, 'netns', this.ns]);
    ip(['addr', 'add', this.serverIP, 'peer', this.viewerIP, 'dev', this.devServer]);
    ip(['link', 'set', this.devServer, 'up']);
    ip(['link', 'set', 'lo', 'up'], this.ns);
    ip(['addr', 'add', this.viewerIP, 'peer', this.serverIP, 'dev', this.devViewer], this.ns);
    ip(['link', 'set', this.devViewer, 'up'], this.ns);

    // Chromium in the namespace: playwright starts this wrapper, which
    // becomes Chromium (exec), so closing the browser ends it.
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'meetd-nb-'));
    this.chromium = path.join(this.dir, 'chromium-in-ns');
    writeFileSync(this.chromium, `#!/bin/sh\nexec ip netns exec ${this.ns} ${CHROMIUM} "$@"\n`);
    chmodSync(this.chromium, 0o755);
  }

  /**
   * Sets the link: down is what goes to the viewer, up what comes from it;
   * each { rateBps, queueBytes, delayMs, jitterMs, loss }, missing fields
   * meaning none.
   */
  shape({ down = {}, up = {} }) {
    this.proc.stdin.write(JSON.stringify({ down, up }) + '\n');
  }

  /** Removes the namespace and stops the emulator; safe to call twice. */
  close() {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    try {
      ip(['netns', 'del', this.ns]);
    } catch {
      // never made
    }
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGKILL');
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
