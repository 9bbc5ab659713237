// Subscriber watches a meetd broadcast: it joins the room's audience, answers
// meetd's offers on the subscribe connection, gathers the received tracks into
// one MediaStream, and rejoins with backoff when the socket drops. It knows
// nothing about React; the page listens to onChange.

import type { IceCandidate, IceServer, ServerMessage } from './protocol';
import { candidateJSON } from './publisher';
import { Reconnector, SignalingClient, unreachableMessage, type SocketFactory } from './signaling';

/**
 * Where the viewer is:
 * - connecting: opening the socket or joining, the first time
 * - reconnecting: the socket dropped; retrying
 * - waiting: joined, the broadcast has not started
 * - negotiating: the broadcast is live; setting up the media connection
 * - media: the media connection is up
 * - ended: the broadcast was live and has stopped
 * - error: meetd refused something, or cannot be reached (still retrying then)
 */
export type SubscriberPhase =
  | 'connecting'
  | 'reconnecting'
  | 'waiting'
  | 'negotiating'
  | 'media'
  | 'ended'
  | 'error';

export interface SubscriberState {
  phase: SubscriberPhase;
  /** Words for phase 'error', or a server complaint that did not stop the media. */
  error: string | null;
  viewers: number | null;
  /** All received tracks, in one stream; null when there is nothing to show. */
  stream: MediaStream | null;
}

export interface SubscriberOptions {
  room: string;
  signalingUrl: string;
  host: string;
  onChange: (state: SubscriberState) => void;
  createSocket?: SocketFactory;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  createMediaStream?: () => MediaStream;
  /** How long the media connection may be `disconnected` before we rejoin. */
  disconnectGraceMs?: number;
}

export class Subscriber {
  private started = false;
  private session = 0;
  private sig: SignalingClient | null = null;
  private pc: RTCPeerConnection | null = null;
  private stream: MediaStream | null = null;
  private iceServers: IceServer[] = [];
  private ops: Promise<void> = Promise.resolve();
  private remoteCandidates: IceCandidate[] = [];
  private graceTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly reconnector = new Reconnector(() => this.attempt());
  private readonly createPc: (config: RTCConfiguration) => RTCPeerConnection;
  private readonly createStream: () => MediaStream;

  // What the phase is computed from.
  private joined = false;
  private retrying = false;
  private live = false;
  private wasLive = false;
  private connected = false;
  private unreachable = false;
  private error: string | null = null;
  private viewers: number | null = null;

  constructor(private readonly opts: SubscriberOptions) {
    this.createPc = opts.createPeerConnection ?? ((c) => new RTCPeerConnection(c));
    this.createStream = opts.createMediaStream ?? (() => new MediaStream());
  }

  get current(): SubscriberState {
    return {
      phase: this.phase(),
      error: this.unreachable ? unreachableMessage(this.opts.host) : this.error,
      viewers: this.viewers,
      stream: this.stream,
    };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.attempt();
  }

  stop(): void {
    this.started = false;
    this.reconnector.cancel();
    this.teardown();
  }

  private phase(): SubscriberPhase {
    if (this.unreachable) return 'error';
    if (!this.joined) return this.retrying ? 'reconnecting' : 'connecting';
    if (this.error !== null && !this.connected) return 'error';
    if (this.pc) return this.connected ? 'media' : 'negotiating';
    if (this.live) return 'negotiating';
    return this.wasLive ? 'ended' : 'waiting';
  }

  private changed(): void {
    this.opts.onChange(this.current);
  }

  private attempt(): void {
    this.teardown();
    const id = ++this.session;
    const sig = new SignalingClient(this.opts.signalingUrl, this.opts.createSocket);
    this.sig = sig;
    sig.on('message', (m) => {
      if (id === this.session) this.enqueue(id, () => this.handle(id, m));
    });
    sig.on('close', () => {
      if (id === this.session) this.drop();
    });
    sig.on('invalid', (err, text) => console.warn('meetd: ignoring a bad message:', err.message, text));
    sig.connect().then(
      () => {
        if (id !== this.session) return;
        this.unreachable = false;
        sig.send({ type: 'join', room: this.opts.room, role: 'audience' });
        this.changed();
      },
      () => {
        if (id !== this.session) return;
        // Say so the first time; after a drop keep saying "Reconnecting…".
        if (!this.retrying) this.unreachable = true;
        this.drop();
      },
    );
  }

  private enqueue(id: number, step: () => Promise<void>): void {
    this.ops = this.ops
      .then(() => (id === this.session ? step() : undefined))
      .catch((err: unknown) => {
        if (id !== this.session) return;
        const why = err instanceof Error ? err.message : String(err);
        this.error = `Could not set up the media connection (${why}).`;
        this.closePeer();
        this.changed();
      });
  }

  private async handle(id: number, m: ServerMessage): Promise<void> {
    switch (m.type) {
      case 'joined':
        this.iceServers = m.iceServers;
        this.joined = true;
        this.retrying = false;
        this.error = null;
        this.reconnector.reset();
        this.changed();
        return;
      case 'state':
        this.viewers = m.viewers;
        if (m.live) {
          this.live = true;
          this.wasLive = true;
        } else {
          this.live = false;
          this.closePeer();
        }
        this.changed();
        return;
      case 'offer':
        await this.answer(id, m.sdp);
        return;
      case 'candidate': {
        if (m.target !== undefined && m.target !== 'subscribe') return;
        const pc = this.pc;
        if (!pc || !pc.remoteDescription) {
          this.remoteCandidates.push(m.candidate);
          return;
        }
        await addCandidate(pc, m.candidate);
        return;
      }
      case 'error':
        this.error = m.message;
        this.changed();
        return;
      case 'answer':
        // We never offer, so there is nothing to answer.
        return;
    }
  }

  private async answer(id: number, sdp: string): Promise<void> {
    this.error = null;
    this.wasLive = true;
    let pc = this.pc;
    if (!pc || pc.connectionState === 'closed') {
      pc = this.newPeer(id);
    }
    this.changed();
    await pc.setRemoteDescription({ type: 'offer', sdp });
    if (id !== this.session || pc !== this.pc) return;
    const queued = this.remoteCandidates;
    this.remoteCandidates = [];
    for (const c of queued) await addCandidate(pc, c);
    const answer = await pc.createAnswer();
    if (id !== this.session || pc !== this.pc) return;
    await pc.setLocalDescription(answer);
    if (id !== this.session || pc !== this.pc) return;
    this.sig?.send({ type: 'answer', sdp: pc.localDescription?.sdp ?? answer.sdp ?? '' });
  }

  private newPeer(id: number): RTCPeerConnection {
    const pc = this.createPc({ iceServers: this.iceServers });
    this.pc = pc;
    this.connected = false;
    pc.onicecandidate = (ev) => {
      if (id !== this.session || pc !== this.pc || !ev.candidate) return;
      this.sig?.send({ type: 'candidate', target: 'subscribe', candidate: candidateJSON(ev.candidate) });
    };
    pc.ontrack = (ev) => {
      if (id !== this.session || pc !== this.pc) return;
      this.addTrack(ev.track, ev.streams[0]);
    };
    pc.onconnectionstatechange = () => {
      if (id !== this.session || pc !== this.pc) return;
      this.connectionState(id, pc.connectionState);
    };
    return pc;
  }

  /** Puts every received track into one stream for the video element. */
  private addTrack(track: MediaStreamTrack, sent: MediaStream | undefined): void {
    if (!this.stream) {
      this.stream = sent ?? this.createStream();
    }
    if (!this.stream.getTracks().includes(track)) {
      this.stream.addTrack(track);
    }
    this.changed();
  }

  private connectionState(id: number, state: RTCPeerConnectionState): void {
    switch (state) {
      case 'connected':
        this.clearGrace();
        this.connected = true;
        this.changed();
        return;
      case 'disconnected':
        if (this.graceTimer === null) {
          this.graceTimer = setTimeout(() => {
            this.graceTimer = null;
            if (id === this.session && this.pc?.connectionState !== 'connected') this.drop();
          }, this.opts.disconnectGraceMs ?? 4000);
        }
        return;
      case 'failed':
        // meetd offers this connection, so we cannot restart ICE; rejoining
        // gets us a fresh offer.
        this.drop();
        return;
      default:
        return;
    }
  }

  /** The socket or the media broke: tear down and rejoin after a while. */
  private drop(): void {
    if (!this.started) return;
    this.teardown();
    this.retrying = true;
    this.reconnector.schedule();
    this.changed();
  }

  private closePeer(): void {
    this.clearGrace();
    if (this.pc) {
      this.pc.onicecandidate = null;
      this.pc.ontrack = null;
      this.pc.onconnectionstatechange = null;
      this.pc.close();
      this.pc = null;
    }
    this.connected = false;
    this.stream = null;
    this.remoteCandidates = [];
  }

  private teardown(): void {
    this.session++;
    this.closePeer();
    if (this.sig) {
      this.sig.send({ type: 'leave' });
      this.sig.close();
      this.sig = null;
    }
    this.joined = false;
    this.live = false;
    this.ops = Promise.resolve();
  }

  private clearGrace(): void {
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }
}

async function addCandidate(pc: RTCPeerConnection, c: IceCandidate): Promise<void> {
  try {
    await pc.addIceCandidate(c);
  } catch (err) {
    console.warn('meetd: could not add an ICE candidate:', err);
  }
}
