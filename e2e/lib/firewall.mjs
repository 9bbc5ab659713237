// Cuts one UDP port on loopback with iptables (and ip6tables): packets to it
// and from it are dropped until the rules are removed. Tests use it to break
// meetd's media path (all of it on one port, -udp-port) while its WebSocket,
// on TCP, stays up. The rules are tagged with a comment naming this process,
// match only lo and that port, and are removed on unblock(), and on exit or a
// signal if a test dies with them in place.

import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';

const TOOLS = ['iptables', 'ip6tables'];

function run(tool, args) {
  execFileSync(tool, ['-w', '5', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function usable(tool) {
  try {
    run(tool, ['-S', 'INPUT']);
    return true;
  } catch {
    return false;
  }
}

/** Why the firewall cannot be used here (not root, no iptables), or null when it can. */
export function firewallProblem() {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'needs root to change iptables rules (run as root, as CI does)';
  }
  if (!usable('iptables')) {
    return 'needs a working iptables (scripts/ensure-net-tools.sh installs it)';
  }
  return null;
}

/** A UDP port on 127.0.0.1 that was free a moment ago. */
export function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Drops UDP to and from `port` on lo while blocked. */
export class UdpBlock {
  constructor(port) {
    this.port = port;
    this.tag = `meetd-e2e-${process.pid}`;
    this.tools = TOOLS.filter(usable);
    this.installed = [];
    this.onExit = () => this.unblock();
    this.onSignal = (sig) => {
      this.unblock();
      process.kill(process.pid, sig);
    };
  }

  /** The two rules for one tool: what comes in to the port, what goes out from it. */
  rules() {
    const p = String(this.port);
    const tag = ['-m', 'comment', '--comment', this.tag, '-j', 'DROP'];
    return [
      ['INPUT', '-i', 'lo', '-p', 'udp', '--dport', p, ...tag],
      ['OUTPUT', '-o', 'lo', '-p', 'udp', '--sport', p, ...tag],
    ];
  }

  get blocked() {
    return this.installed.length > 0;
  }

  block() {
    if (this.blocked) return;
    process.once('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    for (const tool of this.tools) {
      for (const [chain, ...spec] of this.rules()) {
        run(tool, ['-I', chain, ...spec]);
        this.installed.push({ tool, chain, spec });
      }
    }
  }

  /** Removes every rule block() put in; safe to call twice. */
  unblock() {
    const failed = [];
    for (const { tool, chain, spec } of this.installed.splice(0)) {
      try {
        run(tool, ['-D', chain, ...spec]);
      } catch (e) {
        failed.push(`${tool} -D ${chain} ${spec.join(' ')}: ${e.stderr?.toString().trim() || e.message}`);
      }
    }
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    if (failed.length) throw new Error(`could not remove firewall rules:\n${failed.join('\n')}`);
  }
}
