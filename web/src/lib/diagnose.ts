// The connection check of /diagnose: from the browser it runs, which ways to
// meetd work. Each media line makes a real publish connection to a throwaway
// broadcast room, with only one path allowed: meetd's UDP or TCP candidates,
// or one TURN transport with iceTransportPolicy "relay".

import { locale, t } from '../i18n';
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

export const CHECK_IDS: readonly CheckId[] = ['websocket', 'candidates', 'udp', 'tcp', 'turn-udp', 'turn-tcp', 'turn-tls'];

/** The checks, with their names in the user's language. */
export const CHECKS: readonly { id: CheckId; readonly label: string }[] = CHECK_IDS.map((id) => ({
  id,
  get label() {
    return t(`diagnose.check.${id}`);
  },
}));

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

const TURN_CHECKS: readonly CheckId[] = ['turn-udp', 'turn-tcp', 'turn-tls'];

/** What the person at this browser can make of a line that is not ✓, in words; '' for none. */
export function advice(id: CheckId, outcome: Outcome): string {
  if (outcome === 'ok' || outcome === 'running') return '';
  if (outcome === 'absent') return t(`diagnose.absent.${id === 'tcp' ? 'tcp' : id === 'turn-tls' ? 'tls' : 'turn'}`);
  return t(`diagnose.fail.${id}`);
}

/**
 * advice for one line among all results: an unused TURN path is explained
 * once, on the first TURN line that is not offered.
 */
export function adviceIn(results: readonly CheckResult[], id: CheckId): string {
  const outcome = results.find((r) => r.id === id)?.outcome ?? 'running';
  if (outcome === 'absent' && id !== 'turn-udp' && TURN_CHECKS.includes(id)) {
    const first = TURN_CHECKS.find((x) => results.find((r) => r.id === x)?.outcome === 'absent');
    if (first !== id) return '';
  }
  return advice(id, outcome);
}

/** What the server's administrator could change for a line that is not ✓; '' for nothing. */
export function operatorHint(id: CheckId, outcome: Outcome): string {
  if (outcome === 'absent') {
    if (id === 'tcp') return t('diagnose.operator.tcpAbsent');
    if (id === 'turn-tls') return t('diagnose.operator.tlsAbsent');
    if (TURN_CHECKS.includes(id)) return t('diagnose.operator.turnAbsent');
    return '';
  }
  if (outcome !== 'fail') return '';
  if (id === 'udp') return t('diagnose.operator.udpFail');
  if (id === 'tcp') return t('diagnose.operator.tcpFail');
  if (id === 'websocket') return t('diagnose.operator.wsFail');
  return '';
}

/** One sentence on the whole result. */
export function summary(results: readonly CheckResult[]): string {
  const get = (id: CheckId) => results.find((r) => r.id === id);
  if (results.some((r) => r.outcome === 'running') || results.length === 0) return t('diagnose.checking');
  if (get('websocket')?.outcome !== 'ok') return t('diagnose.summaryNoSocket');
  const working = MEDIA_CHECKS.filter((id) => get(id)?.outcome === 'ok');
  if (working.length === 0) {
    return t('diagnose.summaryNoMedia');
  }
  const paths = new Intl.ListFormat(locale(), { type: 'conjunction' }).format(
    working.map((id) => t(`diagnose.via.${id}`)),
  );
  return t('diagnose.summaryOk', { paths });
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
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error(t('diagnose.detail.wsTimeout', { seconds: timeoutMs / 1000 })));
      }, timeoutMs);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(new DiagnoseSocket(ws));
      };
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new Error(t('diagnose.detail.wsClosed')));
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
      if (Date.now() > deadline || this.ws.readyState > WebSocket.OPEN) throw new Error(t('diagnose.detail.noAnswer'));
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
      result: { id: 'websocket', outcome: 'ok', detail: t('diagnose.detail.wsOk', { url }) },
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
  if (names.length === 0) return { id: 'candidates', outcome: 'fail', detail: t('diagnose.detail.noCandidates') };
  return { id: 'candidates', outcome: 'ok', detail: t('diagnose.detail.found', { names: names.join(', ') }) };
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
      if (!server) return { id, outcome: 'absent', detail: t('diagnose.detail.noTurn') };
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
      const timer = setTimeout(
        () => resolve(t('diagnose.detail.still', { state: conn.connectionState, seconds: TIMEOUT_MS / 1000 })),
        TIMEOUT_MS,
      );
      conn.onconnectionstatechange = () => {
        if (conn.connectionState === 'connected' || conn.connectionState === 'failed') {
          clearTimeout(timer);
          resolve(conn.connectionState);
        }
      };
    });
    if (state !== 'connected') {
      if (!offered) return { id, outcome: 'absent', detail: t('diagnose.detail.noOffer', { proto: id.toUpperCase() }) };
      return { id, outcome: 'fail', detail: t('diagnose.detail.didNotWork', { state }) };
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
      return { id, outcome: offered ? 'fail' : 'absent', detail: t('diagnose.detail.notThat', { text, proto: id.toUpperCase() }) };
    }
    if (sent === 0) return { id, outcome: 'fail', detail: t('diagnose.detail.noMedia', { text }) };
    return { id, outcome: 'ok', detail: text };
  } catch (err) {
    return { id, outcome: 'fail', detail: t('diagnose.detail.failed', { why: (err as Error).message }) };
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
        const via = local.candidateType === 'relay' ? t('diagnose.detail.viaTurn', { proto: local.relayProtocol ?? '?' }) : '';
        protocol = local.protocol;
        path = `${local.protocol} ${local.address ?? ''}:${local.port} → ${remote.address ?? ''}:${remote.port}${via}`;
      }
    }
  });
  const kib = (sent / 1024).toFixed(1);
  return { text: path ? t('diagnose.detail.connectedPath', { path, kib }) : t('diagnose.detail.connected', { kib }), sent, protocol };
}
