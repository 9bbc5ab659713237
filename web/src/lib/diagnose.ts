// The connection check of /diagnose: from the browser it runs, which ways to
// meetd work. Each media line makes a real publish connection to a throwaway
// broadcast room, with only one path allowed: meetd's UDP or TCP candidates,
// or one TURN transport with iceTransportPolicy "relay".

import { decodeServerMessage, encode, type IceServer, type JoinedMessage, type ServerMessage } from './protocol';
import { candidateJSON } from './ice';

export type CheckId = 'websocket' | 'candidates' | 'udp' | 'tcp' | 'turn-udp' | 'turn-tcp' | 'turn-tls';
export type MediaCheckId = Exclude<CheckId, 'websocket' | 'candidates'>;
/** absent: the server does not offer this way. */
export type Outcome = 'running' | 'ok' | 'fail' | 'absent';

export interface CheckResult {
  id: CheckId;
  outcome: Outcome;
  /** What was seen, in words. */
  detail: string;
}

export const CHECKS: readonly { id: CheckId; label: string }[] = [
  { id: 'websocket', label: 'Signaling (WebSocket) to meetd' },
  { id: 'candidates', label: 'Network paths your browser finds' },
  { id: 'udp', label: 'Media over UDP' },
  { id: 'tcp', label: 'Media over TCP' },
  { id: 'turn-udp', label: 'Media through TURN over UDP' },
  { id: 'turn-tcp', label: 'Media through TURN over TCP' },
  { id: 'turn-tls', label: 'Media through TURN over TLS' },
];

export const MEDIA_CHECKS: readonly MediaCheckId[] = ['udp', 'tcp', 'turn-udp', 'turn-tcp', 'turn-tls'];

/** Which TURN check a TURN URL serves, or null for other URLs. */
export function turnTransport(url: string): MediaCheckId | null {
  const u = url.trim().toLowerCase();
  if (u.startsWith('turns:')) return 'turn-tls';
  if (!u.startsWith('turn:')) return null;
  return /[?&]transport=tcp\b/.test(u) ? 'turn-tcp' : 'turn-udp';
}

/** The ICE server for a TURN check, with that one URL, or null when meetd offers none. */
export function turnServerFor(servers: readonly IceServer[], id: MediaCheckId): IceServer | null {
  for (const s of servers) {
    const urls = Array.isArray(s.urls) ? s.urls : [s.urls];
    const url = urls.find((u) => turnTransport(u) === id);
    if (url) return { ...s, urls: [url] };
  }
  return null;
}

/** The transport ("udp" or "tcp") and type ("host", "srflx", "relay"…) of a candidate line. */
export function parseCandidate(line: string): { protocol: string; type: string } | null {
  const f = line.replace(/^a=/, '').trim().split(/\s+/);
  const typ = f.indexOf('typ');
  if (f.length < 8 || !f[0].startsWith('candidate:') || typ < 0 || typ + 1 >= f.length) return null;
  return { protocol: f[2].toLowerCase(), type: f[typ + 1].toLowerCase() };
}

/** Whether a media check may use one of meetd's candidates. */
export function usesCandidate(id: MediaCheckId, line: string): boolean {
  const c = parseCandidate(line);
  if (!c) return false;
  if (id === 'udp' || id === 'tcp') return c.protocol === id;
  return true; // TURN checks are held to relays by the browser's policy
}

/** What to do about a line that is not ✓, in words. */
export function advice(id: CheckId, outcome: Outcome): string {
  if (outcome === 'ok' || outcome === 'running') return '';
  if (outcome === 'absent') {
    switch (id) {
      case 'tcp':
        return 'Not offered by this server (meetd -tcp-port). Not needed while UDP works.';
      case 'turn-tls':
        return 'Not offered by this server: TURN over TLS needs meetd to run with -turn and serve HTTPS.';
      default:
        return 'Not offered by this server (meetd runs without -turn).';
    }
  }
  switch (id) {
    case 'websocket':
      return 'meetd cannot work from here: check the address, and that no proxy or firewall blocks WebSockets to this server; or try another network.';
    case 'candidates':
      return 'Your browser found no network path for media. An extension or a browser policy may turn WebRTC off.';
    case 'udp':
      return 'Your network blocks UDP to this server. meetd still works over TCP or TURN where those lines show ✓; otherwise ask the operator to open the UDP media port (meetd -udp-port).';
    case 'tcp':
      return 'Media over TCP does not reach this server (its -tcp-port may be closed by a firewall). Not needed while UDP works.';
    case 'turn-udp':
      return 'TURN over UDP does not work from here: UDP to the TURN port is blocked. TURN over TCP or TLS may still work.';
    case 'turn-tcp':
      return 'TURN over TCP does not work from here: the TURN port is blocked. TURN over TLS may still work.';
    case 'turn-tls':
      return 'TURN over TLS does not work from here. If nothing above works either, this network lets no media through.';
  }
}

/** One sentence on the whole result. */
export function summary(results: readonly CheckResult[]): string {
  const get = (id: CheckId) => results.find((r) => r.id === id);
  if (results.some((r) => r.outcome === 'running') || results.length === 0) return 'Checking…';
  if (get('websocket')?.outcome !== 'ok') return 'meetd cannot work from here: the WebSocket to the server does not open.';
  const working = MEDIA_CHECKS.filter((id) => get(id)?.outcome === 'ok');
  if (working.length === 0) {
    return 'Media cannot reach meetd from here: you could join, but see and hear nothing. See the advice below.';
  }
  const label = (id: MediaCheckId) => CHECKS.find((c) => c.id === id)!.label.replace(/^Media /, '');
  return `meetd works from here: media flows ${working.map(label).join(', ')}.`;
}

const TIMEOUT_MS = 8000;

/** A WebSocket to meetd, joined to a throwaway broadcast as its streamer. */
export class DiagnoseSocket {
  private queue: ServerMessage[] = [];
  private waiters: (() => void)[] = [];
  onMessage: (m: ServerMessage) => void = () => {};

  private constructor(private ws: WebSocket) {
    ws.onmessage = (e) => {
      let m: ServerMessage;
      try {
        m = decodeServerMessage(e.data);
      } catch {
        return;
      }
      this.queue.push(m);
      this.onMessage(m);
      for (const w of this.waiters.splice(0)) w();
    };
    ws.onclose = () => {
      for (const w of this.waiters.splice(0)) w();
    };
  }

  static open(url: string, timeoutMs = TIMEOUT_MS): Promise<DiagnoseSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const t = setTimeout(() => {
        ws.close();
        reject(new Error(`the WebSocket did not open within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      ws.onopen = () => {
        clearTimeout(t);
        resolve(new DiagnoseSocket(ws));
      };
      ws.onerror = () => {
        clearTimeout(t);
        reject(new Error('the WebSocket could not be opened'));
      };
    });
  }

  send(m: Parameters<typeof encode>[0]) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encode(m));
  }

  /** Joins a fresh broadcast as its streamer; resolves with joined. */
  async join(timeoutMs = TIMEOUT_MS): Promise<JoinedMessage> {
    const room = `diagnose-${Math.random().toString(36).slice(2, 12)}`;
    this.send({ type: 'join', room, role: 'stage', name: 'connection check' });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.queue.find((x) => x.type === 'joined' || x.type === 'error');
      if (m?.type === 'joined') return m;
      if (m?.type === 'error') throw new Error(m.message);
      if (Date.now() > deadline || this.ws.readyState > WebSocket.OPEN) throw new Error('meetd did not answer join');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 250);
      });
    }
  }

  close() {
    this.ws.close();
  }
}

/**
 * Opens the WebSocket and joins: the first line. The socket stays open
 * until close is called: meetd's TURN credential in joined works only
 * while its participant is connected.
 */
export async function checkWebSocket(
  url: string,
): Promise<{ result: CheckResult; iceServers: IceServer[]; close: () => void }> {
  let s: DiagnoseSocket | null = null;
  try {
    s = await DiagnoseSocket.open(url);
    const joined = await s.join();
    const servers = joined.iceServers ?? [];
    const open = s;
    return {
      result: { id: 'websocket', outcome: 'ok', detail: `${url} opens and answers.` },
      iceServers: servers,
      close: () => open.close(),
    };
  } catch (err) {
    s?.close();
    return {
      result: { id: 'websocket', outcome: 'fail', detail: `${url}: ${(err as Error).message}.` },
      iceServers: [],
      close: () => {},
    };
  }
}

/** Gathers the browser's candidates with meetd's ICE servers. */
export async function checkCandidates(iceServers: IceServer[]): Promise<CheckResult> {
  const pc = new RTCPeerConnection({ iceServers });
  const seen = new Set<string>();
  try {
    pc.createDataChannel('diagnose');
    const done = new Promise<void>((resolve) => {
      pc.onicecandidate = (e) => {
        if (!e.candidate) return resolve();
        const c = parseCandidate(e.candidate.candidate);
        if (!c) return;
        const relay = (e.candidate as RTCIceCandidate & { relayProtocol?: string }).relayProtocol;
        seen.add(c.type === 'relay' && relay ? `relay (${relay})` : `${c.type} (${c.protocol})`);
      };
      setTimeout(resolve, 6000);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await done;
  } finally {
    pc.close();
  }
  const names = [...seen].sort();
  if (names.length === 0) return { id: 'candidates', outcome: 'fail', detail: 'No candidates at all.' };
  return { id: 'candidates', outcome: 'ok', detail: `Found: ${names.join(', ')}.` };
}

/** A small moving picture to publish. */
function canvasTrack(): { track: MediaStreamTrack; stop: () => void } {
  const canvas = document.createElement('canvas');
  canvas.width = 160;
  canvas.height = 120;
  const ctx = canvas.getContext('2d');
  let n = 0;
  const timer = setInterval(() => {
    if (!ctx) return;
    ctx.fillStyle = `hsl(${(n++ * 7) % 360} 70% 50%)`;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }, 100);
  const track = canvas.captureStream(10).getVideoTracks()[0];
  return { track, stop: () => (clearInterval(timer), track.stop()) };
}

/** Publishes a canvas to meetd over one path only and reports whether media flows. */
export async function checkMedia(url: string, id: MediaCheckId): Promise<CheckResult> {
  let socket: DiagnoseSocket | null = null;
  let pc: RTCPeerConnection | null = null;
  const picture = canvasTrack();
  let offered = false;
  try {
    socket = await DiagnoseSocket.open(url);
    const joined = await socket.join();
    let config: RTCConfiguration = {};
    if (id.startsWith('turn-')) {
      const server = turnServerFor(joined.iceServers ?? [], id);
      if (!server) return { id, outcome: 'absent', detail: 'meetd names no such TURN server.' };
      config = { iceServers: [server], iceTransportPolicy: 'relay' };
      offered = true;
    }
    const conn = new RTCPeerConnection(config);
    pc = conn;
    conn.addTransceiver(picture.track, { direction: 'sendonly' });
    // Both ends keep to the path: meetd would otherwise reach the browser's
    // UDP candidates by itself when checking TCP.
    conn.onicecandidate = (e) => {
      if (e.candidate && usesCandidate(id, e.candidate.candidate)) {
        socket?.send({ type: 'candidate', target: 'publish', candidate: candidateJSON(e.candidate) });
      }
    };
    const s = socket;
    s.onMessage = (m) => {
      if (m.type === 'answer') void conn.setRemoteDescription({ type: 'answer', sdp: m.sdp }).catch(() => {});
      if (m.type === 'candidate' && usesCandidate(id, m.candidate.candidate)) {
        offered = true;
        void conn.addIceCandidate(m.candidate).catch(() => {});
      }
    };
    const offer = await conn.createOffer();
    await conn.setLocalDescription(offer);
    s.send({ type: 'offer', sdp: offer.sdp ?? '' });
    const state = await new Promise<string>((resolve) => {
      const t = setTimeout(() => resolve(`still ${conn.connectionState} after ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);
      conn.onconnectionstatechange = () => {
        if (conn.connectionState === 'connected' || conn.connectionState === 'failed') {
          clearTimeout(t);
          resolve(conn.connectionState);
        }
      };
    });
    if (state !== 'connected') {
      if (!offered) return { id, outcome: 'absent', detail: `meetd offers no ${id.toUpperCase()} candidates.` };
      return { id, outcome: 'fail', detail: `The connection did not work: ${state}.` };
    }
    // The selected candidate pair shows in the stats a moment after the
    // connection opens; wait for it rather than judge the path unknown.
    let path = await describePath(conn);
    for (let i = 0; i < 10 && (!path.protocol || path.sent === 0); i++) {
      await new Promise((r) => setTimeout(r, 500));
      path = await describePath(conn);
    }
    const { text, sent, protocol } = path;
    if ((id === 'udp' || id === 'tcp') && protocol !== id) {
      return { id, outcome: offered ? 'fail' : 'absent', detail: `${text} That is not ${id.toUpperCase()}.` };
    }
    if (sent === 0) return { id, outcome: 'fail', detail: `${text} The connection opened, but no media went through.` };
    return { id, outcome: 'ok', detail: text };
  } catch (err) {
    return { id, outcome: 'fail', detail: `The check failed: ${(err as Error).message}.` };
  } finally {
    picture.stop();
    pc?.close();
    socket?.close();
  }
}

/** The path a connected peer connection uses, and what it sent. */
async function describePath(pc: RTCPeerConnection): Promise<{ text: string; sent: number; protocol: string }> {
  const stats = await pc.getStats();
  let path = '';
  let protocol = '';
  let sent = 0;
  stats.forEach((r) => {
    if (r.type === 'outbound-rtp') sent += r.bytesSent ?? 0;
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') {
      const local = stats.get(r.localCandidateId);
      const remote = stats.get(r.remoteCandidateId);
      if (local && remote) {
        const via = local.candidateType === 'relay' ? ` via TURN (${local.relayProtocol ?? '?'})` : '';
        protocol = local.protocol;
        path = `${local.protocol} ${local.address ?? ''}:${local.port} → ${remote.address ?? ''}:${remote.port}${via}`;
      }
    }
  });
  return { text: `Connected${path ? `: ${path}` : ''}; ${(sent / 1024).toFixed(1)} KiB of video sent.`, sent, protocol };
}
