// PublishConnection is a participant's publish connection: camera and
// microphone (and a screen share, when there is one) going to meetd. The
// client offers and meetd answers; every change of tracks is a new offer on
// the same RTCPeerConnection, one at a time, never two in flight.

import type { ClientMessage, IceCandidate, IceServer } from './protocol';
import { addCandidate, candidateJSON } from './ice';
import { addSendTrack, setActiveLayers } from './simulcast';

export interface PublishConnectionOptions {
  iceServers: IceServer[];
  send: (msg: ClientMessage) => void;
  createPeerConnection: (config: RTCConfiguration) => RTCPeerConnection;
  onState: (state: RTCPeerConnectionState) => void;
  /** How long meetd may take to answer an offer. */
  answerTimeoutMs?: number;
}

type Kind = 'audio' | 'video';

interface PendingAnswer {
  resolve: (sdp: string) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class PublishConnection {
  readonly pc: RTCPeerConnection;
  private senders: Partial<Record<Kind, RTCRtpSender>> = {};
  private screenSenders: RTCRtpSender[] = [];
  /** Negotiations run one after another. */
  private chain: Promise<void> = Promise.resolve();
  private pending: PendingAnswer | null = null;
  /** meetd's candidates that came before its first answer. */
  private remoteCandidates: IceCandidate[] = [];
  /** Our candidates found before the first offer went out; null once it has. */
  private localCandidates: IceCandidate[] | null = [];
  private closed = false;
  /** An ICE restart queued or in flight; another one waits for it rather than queue behind it. */
  private restarting: Promise<void> | null = null;
  /** The stream the camera and microphone go out in; its id names them to the others. */
  private camera: MediaStream | null = null;
  /** The camera's layers meetd last asked for (and paused); null until it says. */
  private layers: { active: readonly string[]; paused?: readonly string[] } | null = null;
  /** Layer changes run one after another; each applies the latest wish. */
  private layering: Promise<void> = Promise.resolve();

  constructor(private readonly opts: PublishConnectionOptions) {
    const pc = opts.createPeerConnection({ iceServers: opts.iceServers });
    this.pc = pc;
    pc.onicecandidate = (ev) => {
      if (this.closed || !ev.candidate) return;
      const c = candidateJSON(ev.candidate);
      if (this.localCandidates) this.localCandidates.push(c);
      else opts.send({ type: 'candidate', target: 'publish', candidate: c });
    };
    pc.onconnectionstatechange = () => {
      if (!this.closed) opts.onState(pc.connectionState);
    };
  }

  /** Whether a screen share is on this connection. */
  get sharing(): boolean {
    return this.screenSenders.length > 0;
  }

  /**
   * Adds the camera and microphone (and a screen share) and makes the first
   * offer. Resolves once meetd answered.
   */
  start(camera: MediaStream | null, screen: MediaStream | null = null): Promise<void> {
    // Tracks go on before the offer, or no candidates are gathered for them.
    this.camera = camera;
    const tracks = camera?.getTracks().filter((t) => t.readyState === 'live') ?? [];
    for (const kind of ['audio', 'video'] as const) {
      const track = tracks.find((t) => t.kind === kind);
      // The camera goes out as simulcast (simulcast.ts).
      if (track && camera) this.senders[kind] = addSendTrack(this.pc, track, camera).sender;
    }
    if (screen) this.addScreenTracks(screen);
    return this.negotiate();
  }

  /** Sends a screen share as a stream of its own, next to the camera. */
  addScreen(screen: MediaStream): Promise<void> {
    if (this.sharing) return Promise.reject(new Error('already sharing a screen'));
    this.addScreenTracks(screen);
    return this.negotiate();
  }

  /** Stops sending the screen share. */
  removeScreen(): Promise<void> {
    if (!this.sharing) return Promise.resolve();
    for (const s of this.screenSenders) this.pc.removeTrack(s);
    this.screenSenders = [];
    return this.negotiate();
  }

  /**
   * Swaps the camera or microphone track; that needs no new offer. A kind
   * that was not sent yet is added to the camera's stream, with an offer.
   */
  async replaceTrack(kind: Kind, track: MediaStreamTrack): Promise<void> {
    const sender = this.senders[kind];
    if (sender) {
      await sender.replaceTrack(track);
      return;
    }
    if (!this.camera) return;
    this.senders[kind] = addSendTrack(this.pc, track, this.camera).sender;
    await this.negotiate();
  }

  /**
   * Restarts ICE: a new offer with new ICE credentials on this connection,
   * after any offer in flight. For a path that broke or a changed network.
   */
  restartIce(): Promise<void> {
    if (this.restarting) return this.restarting;
    const round = this.negotiate({ iceRestart: true });
    this.restarting = round;
    const done = () => {
      if (this.restarting === round) this.restarting = null;
    };
    round.then(done, done);
    return round;
  }

  /**
   * Pauses the camera layers meetd says to (`layers`) and sends the others;
   * `track` is the id of the stream the camera went out in. Resolves once applied.
   */
  setLayers(track: string, active: readonly string[], paused?: readonly string[]): Promise<void> {
    if (!this.camera || track !== this.camera.id) return Promise.resolve();
    this.layers = { active: [...active], paused: paused && [...paused] };
    const round = this.layering.then(async () => {
      const sender = this.senders.video;
      if (this.closed || !sender || !this.layers) return;
      await setActiveLayers(sender, this.layers.active, this.layers.paused);
    });
    // A failed change does not block the next one.
    this.layering = round.catch(() => {});
    return round;
  }

  /** meetd's answer to our offer; ignored when no offer is waiting. */
  answer(sdp: string): boolean {
    const p = this.pending;
    if (!p) return false;
    this.pending = null;
    clearTimeout(p.timer);
    p.resolve(sdp);
    return true;
  }

  /** meetd refused our offer (an error while it was waiting). */
  refuse(reason: string): boolean {
    const p = this.pending;
    if (!p) return false;
    this.pending = null;
    clearTimeout(p.timer);
    p.reject(new Error(reason));
    return true;
  }

  /** Whether an offer is waiting for meetd's answer. */
  get offering(): boolean {
    return this.pending !== null;
  }

  async candidate(c: IceCandidate): Promise<void> {
    if (this.closed) return;
    if (!this.pc.remoteDescription) {
      this.remoteCandidates.push(c);
      return;
    }
    await addCandidate(this.pc, c);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.refuse('closed');
    this.pc.onicecandidate = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
  }

  private addScreenTracks(screen: MediaStream): void {
    for (const track of screen.getTracks().filter((t) => t.kind === 'video')) {
      this.screenSenders.push(this.pc.addTransceiver(track, { direction: 'sendonly', streams: [screen] }).sender);
    }
  }

  /** Queues one offer/answer round; resolves when it is done, rejects when it failed. */
  private negotiate(options?: RTCOfferOptions): Promise<void> {
    const round = this.chain.then(() => this.offerOnce(options));
    // A failed round does not block the next one.
    this.chain = round.catch(() => {});
    return round;
  }

  private async offerOnce(options?: RTCOfferOptions): Promise<void> {
    if (this.closed) throw new Error('closed');
    const pc = this.pc;
    const offer = await pc.createOffer(options);
    if (this.closed) throw new Error('closed');
    await pc.setLocalDescription(offer);
    if (this.closed) throw new Error('closed');
    const answered = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        reject(new Error('meetd did not answer'));
      }, this.opts.answerTimeoutMs ?? 15_000);
      this.pending = { resolve, reject, timer };
    });
    this.opts.send({ type: 'offer', sdp: pc.localDescription?.sdp ?? offer.sdp ?? '' });
    const early = this.localCandidates;
    this.localCandidates = null;
    for (const c of early ?? []) this.opts.send({ type: 'candidate', target: 'publish', candidate: c });

    const sdp = await answered;
    if (this.closed) throw new Error('closed');
    await pc.setRemoteDescription({ type: 'answer', sdp });
    const queued = this.remoteCandidates;
    this.remoteCandidates = [];
    for (const c of queued) await addCandidate(pc, c);
  }
}
