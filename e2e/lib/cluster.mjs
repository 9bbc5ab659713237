// A cluster of meetd nodes for one browser test: a real nats-server with
// JetStream on a free loopback port and a store directory of its own, and
// meetd nodes on 127.0.0.1, each on its own HTTP port and media ports, joined
// through it (-nats, -node-name). On failure the report holds every node's
// metrics and output, and NATS's output; everything is stopped and the store
// removed afterwards.

import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser } from './browser.mjs';
import { runWorld, World } from './harness.mjs';
import { freePort, startServer } from './server.mjs';
import { sleep, waitUntil } from './wait.mjs';

/**
 * The nats-server to run: $NATS_SERVER, else nats-server on PATH or in
 * /usr/sbin (where Debian's package puts it, not on every user's PATH);
 * null when there is none.
 */
export function natsServerBinary() {
  const executable = (file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (process.env.NATS_SERVER) return executable(process.env.NATS_SERVER) ? process.env.NATS_SERVER : null;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const file = path.join(dir, 'nats-server');
    if (executable(file)) return file;
  }
  return null;
}

/** Why a cluster cannot be run here, or null when it can. */
export function natsProblem() {
  if (natsServerBinary()) return null;
  if (process.env.NATS_SERVER) return `NATS_SERVER=${process.env.NATS_SERVER} is not an executable file`;
  return "needs nats-server (make nats, or scripts/ensure-nats.sh, installs Debian's package; or set NATS_SERVER=/path/to/nats-server)";
}

/** A running nats-server: `url` (nats://127.0.0.1:PORT), `log()` what it printed. */
export class NatsServer {
  constructor(proc, port, dir) {
    this.proc = proc;
    this.port = port;
    this.dir = dir;
    this.url = `nats://127.0.0.1:${port}`;
    this.lines = [];
    this.exit = null;
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    const take = (chunk) => this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    proc.stdout.on('data', take);
    proc.stderr.on('data', take);
  }

  log() {
    return this.lines.join('\n');
  }

  get running() {
    return this.exit === null;
  }

  /** Stops it (SIGINT, on which it exits 0, then SIGKILL after 3 s) and removes its JetStream store. */
  async stop() {
    if (this.running) {
      this.proc.kill('SIGINT');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts nats-server with JetStream on a free loopback port and waits until it says it is ready. */
export async function startNats({ timeoutMs = 10_000 } = {}) {
  const bin = natsServerBinary();
  if (!bin) throw new Error(`cannot start NATS: ${natsProblem()}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'meetd-e2e-nats-'));
  const port = await freePort();
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const nats = new NatsServer(proc, port, dir);
  const spawnError = new Promise((resolve) => proc.on('error', resolve));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const err = await Promise.race([spawnError, sleep(50).then(() => null)]);
    if (err) {
      await nats.stop();
      throw new Error(`could not start ${bin}: ${err.message}`);
    }
    if (!nats.running) {
      await nats.stop();
      throw new Error(`nats-server exited at start (${JSON.stringify(nats.exit)}). Its output:\n${nats.log()}`);
    }
    // Printed once the listener is up, after JetStream has started.
    if (nats.lines.some((l) => l.includes('Server is ready'))) return nats;
  }
  await nats.stop();
  throw new Error(`nats-server did not say it was ready within ${timeoutMs} ms. Its output:\n${nats.log()}`);
}

/**
 * Starts NATS and one meetd node per name (-node-name NAME), all of them with
 * startServer's loopback ICE settings and ports of their own. Each node is a
 * MeetdServer with `name` set. Does not wait for the nodes to see each other
 * (ClusterWorld.waitForNodes does, so that a failure reports their output).
 */
export async function startCluster(names) {
  const nats = await startNats();
  const started = await Promise.allSettled(
    names.map((name) => startServer({ extraArgs: ['-nats', nats.url, '-node-name', name] })),
  );
  const nodes = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await nats.stop();
    // What NATS said goes with the failure: a node that lost its NATS
    // connection at start says only EOF.
    const err = failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    err.message += `\nnats-server's output:\n${nats.log()}`;
    throw err;
  }
  nodes.forEach((node, i) => (node.name = names[i]));
  return { nats, nodes };
}

/** The metric lines of the cluster (meetd_cluster_…) on one node, zeros included. */
async function clusterMetrics(node) {
  if (!node.running) return `--- node ${node.name} /metrics: meetd is not running`;
  const res = await fetch(node.url('/metrics'), { signal: AbortSignal.timeout(2000) });
  const lines = (await res.text()).split('\n').filter((l) => l.startsWith('meetd_cluster_'));
  return `--- node ${node.name} /metrics (cluster series):\n${lines.join('\n') || '(none: not in a cluster?)'}`;
}

/**
 * A World whose meetd is a cluster: `w.server` is the first node, `w.node(name)`
 * any of them. Its report has every node's metrics and output and NATS's.
 */
export class ClusterWorld extends World {
  constructor({ nats, nodes }, browser) {
    super(nodes[0], browser);
    this.nats = nats;
    this.nodes = nodes;
  }

  /** The node called name. */
  node(name) {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name} in this cluster (${this.nodes.map((n) => n.name).join(', ')})`);
    return node;
  }

  /** Opens a new user on node `name` at pagePath. */
  async userOn(name, label, pagePath, options) {
    const u = await this.user(label, undefined, options);
    await u.goto(this.node(name).url(pagePath));
    return u;
  }

  /** Waits until every node counts every node alive (meetd_cluster_nodes), connected to NATS. */
  async waitForNodes(within = 20_000) {
    const want = this.nodes.length;
    await waitUntil(
      `every node to see the ${want} nodes of the cluster (meetd_cluster_nodes) and NATS`,
      async () => {
        const seen = {};
        for (const n of this.nodes) {
          seen[n.name] = {
            nodes: await n.metric('meetd_cluster_nodes'),
            nats: await n.metric('meetd_cluster_nats_connected'),
          };
        }
        return { ok: Object.values(seen).every((s) => s.nodes === want && s.nats === 1), seen };
      },
      { within },
    );
  }

  async serverReport() {
    const parts = [];
    for (const node of this.nodes) {
      parts.push(`----- node ${node.name} (${node.origin})`);
      parts.push(await clusterMetrics(node).catch((e) => `--- node ${node.name} /metrics: ${e.message}`));
      parts.push(...(await super.serverReport(node)));
    }
    parts.push(`----- nats-server output (${this.nats.url}, exit ${JSON.stringify(this.nats.exit)}):`);
    parts.push(this.nats.log() || '(nothing)');
    return parts;
  }

  async close() {
    await super.close();
    // The nodes leave the cluster as they stop, through NATS: NATS goes last.
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
    await this.nats.stop();
  }
}

/**
 * Like harness.mjs's e2e(), with a cluster of one meetd node per name:
 * `test('name', clusterE2E(['a', 'b'], async (w) => { ... }))`. Starts NATS,
 * the nodes and Chromium, waits until the nodes see each other, runs the
 * body, prints the report if anything throws, and always cleans up. Fails at
 * once when nats-server is missing (tests skip then outside CI: see ci.mjs's
 * needs and natsProblem).
 */
export function clusterE2E(names, body) {
  return async (t) => {
    const problem = natsProblem();
    if (problem) throw new Error(`the cluster cannot run: ${problem}`);
    const cluster = await startCluster(names);
    let browser;
    try {
      browser = await launchBrowser();
    } catch (err) {
      await Promise.allSettled(cluster.nodes.map((n) => n.stop()));
      await cluster.nats.stop();
      throw err;
    }
    const world = new ClusterWorld(cluster, browser);
    await runWorld(world, body, t, () => world.waitForNodes());
  };
}
