// SubscribeConnection is a participant's subscribe connection: every track
// on the room's stage except one's own, coming from meetd. meetd offers and
// the client answers; a later offer renegotiates the same RTCPeerConnection.
// Received tracks are kept per stream, and each stream is tied to the
// participant whose id starts its stream id.

import type { ClientMessage, IceCandidate, IceServer } from './protocol';
import { splitStreamId, type RemoteStream } from './participants';
import { addCandidate, candidateJSON } from './ice';

export interface SubscribeConnectionOptions {
  iceServers: IceServer[];
  send: (msg: ClientMessage) => void;
  createPeerConnection: (config: RTCConfiguration) => RTCPeerConnection;
  onState: (state: RTCPeerConnectionState) => void;
  /** The received streams changed. */
  onStreams: () => void;
}

export class SubscribeConnection {
  readonly pc: RTCPeerConnection;
  /** Received streams by their full id, in the order they came. */
  private readonly streams = new Map<string, MediaStream>();
  /** meetd's candidates that came before its offer was applied. */
  private remoteCandidates: IceCandidate[] = [];
  private closed = false;
  /** Offers of meetd that restarted ICE on this connection, all and before markDown. */
  private restarts = 0;
  private restartsWhenDown = 0;

  constructor(private readonly opts: SubscribeConnectionOptions) {
    const pc = opts.createPeerConnection({ iceServers: opts.iceServers });
    this.pc = pc;
    pc.onicecandidate = (ev) => {
      if (this.closed || !ev.candidate) return;
      opts.send({ type: 'candidate', target: 'subscribe', candidate: candidateJSON(ev.candidate) });
    };
    pc.ontrack = (ev) => {
      if (!this.closed) this.addTrack(ev.track, ev.streams[0]);
    };
    pc.onconnectionstatechange = () => {
      if (!this.closed) opts.onState(pc.connectionState);
    };
  }

  get isClosed(): boolean {
    return this.closed || this.pc.connectionState === 'closed';
  }

  /** Whether an offer renegotiates this connection: it comes from the same DTLS certificate. */
  renegotiates(sdp: string): boolean {
    const current = this.pc.remoteDescription?.sdp;
    if (!current) return true;
    return fingerprints(current) === fingerprints(sdp);
  }

  /** The media path went down: from now on, note whether meetd restarts ICE. */
  markDown(): void {
    this.restartsWhenDown = this.restarts;
  }

  /** Whether meetd restarted ICE (an offer with new credentials) since markDown. */
  get restartedSinceDown(): boolean {
    return this.restarts !== this.restartsWhenDown;
  }

  /** Answers one of meetd's offers on this connection. */
  async offer(sdp: string): Promise<void> {
    const pc = this.pc;
    const current = pc.remoteDescription?.sdp;
    if (current && iceUfrag(current) !== iceUfrag(sdp)) this.restarts++;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    if (this.closed) return;
    const queued = this.remoteCandidates;
    this.remoteCandidates = [];
    for (const c of queued) await addCandidate(pc, c);
    const answer = await pc.createAnswer();
    if (this.closed) return;
    await pc.setLocalDescription(answer);
    if (this.closed) return;
    this.opts.send({ type: 'answer', sdp: pc.localDescription?.sdp ?? answer.sdp ?? '' });
    // Tracks that a renegotiation took away end; forget streams with nothing left.
    this.prune();
  }

  async candidate(c: IceCandidate): Promise<void> {
    if (this.closed) return;
    if (!this.pc.remoteDescription) {
      this.remoteCandidates.push(c);
      return;
    }
    await addCandidate(this.pc, c);
  }

  /** The ids of the received streams. */
  streamIds(): string[] {
    return [...this.streams.keys()];
  }

  /** The received streams, grouped by the participant who sent them. */
  byParticipant(): Map<string, RemoteStream[]> {
    const out = new Map<string, RemoteStream[]>();
    for (const [id, stream] of this.streams) {
      const owner = splitStreamId(id);
      if (!owner) continue;
      const list = out.get(owner.participant) ?? [];
      list.push({ id, streamId: owner.stream, stream });
      out.set(owner.participant, list);
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    this.streams.clear();
  }

  private addTrack(track: MediaStreamTrack, stream: MediaStream | undefined): void {
    // meetd sends every track in a stream named for its publisher.
    if (!stream) return;
    if (!this.streams.has(stream.id)) {
      this.streams.set(stream.id, stream);
      stream.onremovetrack = () => {
        if (!this.closed) this.prune();
      };
    }
    if (!stream.getTracks().includes(track)) stream.addTrack(track);
    this.opts.onStreams();
  }

  /** Drops streams without a live track; says whether any went. */
  private prune(): boolean {
    let changed = false;
    for (const [id, stream] of this.streams) {
      if (!stream.getTracks().some((t) => t.readyState === 'live')) {
        stream.onremovetrack = null;
        this.streams.delete(id);
        changed = true;
      }
    }
    if (changed) this.opts.onStreams();
    return changed;
  }
}

/** The DTLS fingerprints of an SDP, as one string. */
export function fingerprints(sdp: string): string {
  return sdp
    .split(/\r?\n/)
    .filter((l) => l.startsWith('a=fingerprint:'))
    .map((l) => l.trim().toLowerCase())
    .sort()
    .filter((l, i, all) => all.indexOf(l) === i)
    .join(' ');
}

/** The first ICE username fragment of an SDP. */
export function iceUfrag(sdp: string): string {
  const line = sdp.split(/\r?\n/).find((l) => l.startsWith('a=ice-ufrag:'));
  return line ? line.slice('a=ice-ufrag:'.length).trim() : '';
}
