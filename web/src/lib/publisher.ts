// Publisher streams local camera and microphone into a meetd broadcast: it
// joins the room on stage, offers a sendonly peer connection (the publish
// connection), trickles ICE, and reconnects with backoff when the connection
// drops or meetd restarts. A room that needs a password waits for one
// (authenticate()); an invitation token goes in every join. As the broadcast's host it also follows who is in the room, moves
// viewers onto the stage and back, and receives the guests it invited on a
// subscribe connection. It knows nothing about React; the page listens to
// onChange and onRoom.

import { Credentials, isAuthError, type AuthPrompt } from './auth';
import { addCandidate, candidateJSON } from './ice';
import type { RemoteStream } from './participants';
import type { IceCandidate, IceServer, Participant, Quality, Role, ServerMessage } from './protocol';
import { Reconnector, SignalingClient, unreachableMessage, type SocketFactory } from './signaling';
import { addSendTrack } from './simulcast';
import { SubscribeConnection } from './subscribe';
import { ViewReporter } from './views';
import { ConnectionWatch } from './watch';

/** 'auth': the room needs a password (see `auth`). */
export type PublisherStatus = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'auth' | 'error';

export interface PublisherState {
  status: PublisherStatus;
  /** Why status is 'error', in words. */
  error: string | null;
  /** Something to tell the person that did not stop the stream, or why we are reconnecting. */
  notice: string | null;
  /** Viewer count from the latest `state`, while connected. */
  viewers: number | null;
  /** Why status is 'auth': a password is needed, or the one given was wrong. */
  auth: AuthPrompt | null;
}

/** The room around the streamer: who is in it, and the guests' media. */
export interface PublisherRoom {
  selfId: string | null;
  participants: Participant[];
  speaker: string;
  /** Media received from guests on stage, by participant id. */
  remote: ReadonlyMap<string, readonly RemoteStream[]>;
}

export const EMPTY_ROOM: PublisherRoom = { selfId: null, participants: [], speaker: '', remote: new Map() };

export interface PublisherOptions {
  room: string;
  /** A display name for the participants list. */
  name?: string;
  /** The token or password to join with, kept in memory across reconnects. */
  credentials?: Credentials;
  onRoom?: (room: PublisherRoom) => void;
  signalingUrl: string;
  /** The server's host, for error messages. */
  host: string;
  /** The media to send; read on every (re)connect so device changes carry over. */
  getStream: () => MediaStream;
  onChange: (state: PublisherState) => void;
  createSocket?: SocketFactory;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  /** How long `disconnected` may last before we reconnect. */
  disconnectGraceMs?: number;
  /** How long one attempt may take to become live before we retry. */
  connectTimeoutMs?: number;
  /** The video quality chosen for the guests' videos (views.ts); 'auto' when missing. */
  quality?: Quality;
}

type Kind = 'audio' | 'video';

export class Publisher {
  private state: PublisherState = { status: 'idle', error: null, notice: null, viewers: null, auth: null };
  private started = false;
  /** Bumped by every attempt and teardown; callbacks of older attempts compare and give up. */
  private session = 0;
  private sig: SignalingClient | null = null;
  private pc: RTCPeerConnection | null = null;
  /** Guests' media, once meetd offers some. */
  private sub: SubscribeConnection | null = null;
  private iceServers: IceServer[] = [];
  private room: PublisherRoom = EMPTY_ROOM;
  private media = { audio: true, video: true };
  private senders: Partial<Record<Kind, RTCRtpSender>> = {};
  /** Signaling work for the current attempt runs one step at a time. */
  private ops: Promise<void> = Promise.resolve();
  /** meetd's candidates that arrived before its answer. */
  private remoteCandidates: IceCandidate[] = [];
  /** Our candidates found before the offer went out; null once it has. */
  private localCandidates: IceCandidate[] | null = [];
  private watch: ConnectionWatch | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly reconnector = new Reconnector(() => this.attempt());
  private readonly createPc: (config: RTCConfiguration) => RTCPeerConnection;
  private readonly credentials: Credentials;

  /** How big each guest's video is shown; tiles report to it, it tells meetd (`view`). */
  readonly views: ViewReporter;

  constructor(private readonly opts: PublisherOptions) {
    this.createPc = opts.createPeerConnection ?? ((c) => new RTCPeerConnection(c));
    this.credentials = opts.credentials ?? new Credentials();
    this.views = new ViewReporter({
      // Only in the room: rejoining sends them all again.
      send: (msg) => this.room.selfId !== null && (this.sig?.send(msg) ?? false),
      quality: opts.quality,
    });
  }

  get current(): PublisherState {
    return this.state;
  }

  /** Goes live. Does nothing if already started. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.reconnector.reset();
    this.set({ status: 'connecting', error: null, notice: null, viewers: null, auth: null });
    this.attempt();
  }

  /** Goes live with the password the person typed (after status 'auth'). */
  authenticate(password: string): void {
    this.credentials.usePassword(password);
    this.started = false;
    this.start();
  }

  /** Stops streaming: says leave, closes everything, and goes back to idle. */
  stop(): void {
    this.started = false;
    this.reconnector.cancel();
    this.teardown();
    this.set({ status: 'idle', error: null, notice: null, viewers: null, auth: null });
  }

  /**
   * Sends a different camera or microphone track without renegotiating.
   * If this connection was set up without that kind of track, it reconnects
   * so that the new track is offered.
   */
  async replaceTrack(kind: Kind, track: MediaStreamTrack | null): Promise<void> {
    const sender = this.senders[kind];
    if (sender) {
      await sender.replaceTrack(track);
    } else if (track && this.started && this.pc) {
      this.teardown();
      this.set({ status: 'reconnecting', notice: null });
      this.attempt();
    }
  }

  /** Microphone and camera on or off, for the participants list; sent now and after every join. */
  setMedia(audio: boolean, video: boolean): void {
    this.media = { audio, video };
    if (this.room.selfId) this.sig?.send({ type: 'media', audio, video, screen: '' });
  }

  /** Moves a participant to the stage (an invitation) or back to the audience. */
  setRole(id: string, role: Role): boolean {
    return this.sig?.send({ type: 'role', id, role }) ?? false;
  }

  private setRoom(patch: Partial<PublisherRoom>): void {
    this.room = { ...this.room, ...patch };
    this.opts.onRoom?.(this.room);
  }

  private set(patch: Partial<PublisherState>): void {
    this.state = { ...this.state, ...patch };
    this.opts.onChange(this.state);
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
      if (id === this.session) this.drop('The connection to the server was lost.');
    });
    sig.on('invalid', (err, text) => console.warn('meetd: ignoring a bad message:', err.message, text));

    const timeout = this.opts.connectTimeoutMs ?? 20_000;
    this.connectTimer = setTimeout(() => {
      if (id === this.session) this.drop('Setting up the connection took too long.');
    }, timeout);

    sig.connect().then(
      () => {
        if (id !== this.session) return;
        const name = this.opts.name?.trim();
        sig.send({ type: 'join', room: this.opts.room, role: 'stage', ...(name ? { name } : {}), ...this.credentials.join });
      },
      () => {
        if (id !== this.session) return;
        const words = unreachableMessage(this.opts.host);
        // The first try fails plainly; once we were going, keep retrying.
        if (this.state.status === 'connecting') this.fail(words);
        else this.drop(words);
      },
    );
  }

  private enqueue(id: number, step: () => Promise<void>): void {
    this.ops = this.ops
      .then(() => (id === this.session ? step() : undefined))
      .catch((err: unknown) => {
        if (id !== this.session) return;
        const why = err instanceof Error ? err.message : String(err);
        this.fail(`Could not set up the media connection (${why}).`);
      });
  }

  private async handle(id: number, m: ServerMessage): Promise<void> {
    switch (m.type) {
      case 'joined':
        this.iceServers = m.iceServers;
        this.setRoom({ selfId: m.id });
        this.sig?.send({ type: 'media', ...this.media, screen: '' });
        // meetd knows nothing of this session's views yet.
        this.views.reset();
        if (!this.pc) await this.negotiate(id, m.iceServers);
        return;
      case 'participants':
        this.setRoom({ participants: m.participants });
        // meetd closes the subscribe connection when no guest is on stage.
        if (!m.participants.some((p) => p.role === 'stage' && p.id !== this.room.selfId)) this.closeGuests();
        return;
      case 'speaker':
        this.setRoom({ speaker: m.id });
        return;
      case 'offer':
        await this.guestOffer(id, m.sdp);
        return;
      case 'role':
      case 'chat':
        return;
      case 'answer': {
        const pc = this.pc;
        if (!pc) return;
        await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        if (id !== this.session) return;
        const queued = this.remoteCandidates;
        this.remoteCandidates = [];
        for (const c of queued) await addCandidate(pc, c);
        return;
      }
      case 'candidate': {
        if (m.target === 'subscribe') {
          await this.sub?.candidate(m.candidate);
          return;
        }
        const pc = this.pc;
        if (!pc) return;
        if (!pc.remoteDescription) this.remoteCandidates.push(m.candidate);
        else await addCandidate(pc, m.candidate);
        return;
      }
      case 'state':
        this.set({ viewers: m.viewers });
        return;
      case 'error':
        this.serverError(m.code, m.message);
        return;
    }
  }

  /** meetd offers the guests' media: answer on the open connection, or a new one. */
  private async guestOffer(id: number, sdp: string): Promise<void> {
    let sub = this.sub;
    if (!sub || sub.isClosed || !sub.renegotiates(sdp)) {
      this.closeGuests();
      const next = new SubscribeConnection({
        iceServers: this.iceServers,
        send: (msg) => this.sig?.send(msg),
        createPeerConnection: this.createPc,
        onState: (s) => {
          // Losing the guests must not stop the broadcast: let them go.
          if (id === this.session && next === this.sub && s === 'failed') this.closeGuests();
        },
        onStreams: () => {
          if (id !== this.session || next !== this.sub) return;
          this.views.retain(next.streamIds());
          this.setRoom({ remote: next.byParticipant() });
        },
      });
      this.sub = next;
      sub = next;
    }
    await sub.offer(sdp);
  }

  private closeGuests(): void {
    if (!this.sub) return;
    this.sub.close();
    this.sub = null;
    this.setRoom({ remote: new Map() });
  }

  private async negotiate(id: number, iceServers: IceServer[]): Promise<void> {
    const stream = this.opts.getStream();
    const tracks = stream.getTracks().filter((t) => t.readyState === 'live');
    if (tracks.length === 0) {
      this.fail('There is no camera or microphone to stream from.');
      return;
    }
    const pc = this.createPc({ iceServers });
    this.pc = pc;
    pc.onicecandidate = (ev) => {
      if (id !== this.session || !ev.candidate) return;
      const c = candidateJSON(ev.candidate);
      if (this.localCandidates) this.localCandidates.push(c);
      else this.sig?.send({ type: 'candidate', target: 'publish', candidate: c });
    };
    const watch = new ConnectionWatch(this.opts.disconnectGraceMs ?? 4000, {
      up: () => {
        this.clearConnectTimer();
        this.reconnector.reset();
        this.set({ status: 'live', error: null, notice: null });
      },
      lost: () => {
        if (id !== this.session) return;
        const failed = pc.connectionState === 'failed';
        this.drop(failed ? 'The media connection failed.' : 'The media connection was interrupted.');
      },
    });
    this.watch = watch;
    pc.onconnectionstatechange = () => {
      if (id === this.session) watch.update(pc.connectionState);
    };
    // Tracks must be on the connection before setLocalDescription, or no
    // candidates are gathered for them.
    for (const kind of ['audio', 'video'] as const) {
      const track = tracks.find((t) => t.kind === kind);
      // The camera goes out as simulcast (simulcast.ts).
      if (track) this.senders[kind] = addSendTrack(pc, track, stream).sender;
    }
    const offer = await pc.createOffer();
    if (id !== this.session) return;
    await pc.setLocalDescription(offer);
    if (id !== this.session) return;
    this.sig?.send({ type: 'offer', sdp: pc.localDescription?.sdp ?? offer.sdp ?? '' });
    const early = this.localCandidates ?? [];
    this.localCandidates = null;
    for (const c of early) this.sig?.send({ type: 'candidate', target: 'publish', candidate: c });
  }

  private serverError(code: string, message: string): void {
    if (code === 'shutting_down') {
      // meetd is restarting: not a failure, come back with the usual backoff.
      this.drop(message);
    } else if (isAuthError(code)) {
      // Wait for a password; never retry by ourselves with what was refused.
      this.fail(message, { code, message });
    } else if (this.state.status === 'live') {
      // The stream is running; say what happened but keep going.
      this.set({ notice: message });
    } else if (this.state.status === 'reconnecting' && code === 'already_live') {
      // meetd may not have noticed yet that our previous connection is gone.
      this.drop(message);
    } else {
      this.fail(message);
    }
  }

  /** The connection broke: tear down and try again after a while. */
  private drop(reason: string): void {
    if (!this.started) return;
    this.teardown();
    this.set({ status: 'reconnecting', notice: reason });
    this.reconnector.schedule();
  }

  /** Give up: show the error (or ask for a password) and stop. */
  private fail(message: string, auth: AuthPrompt | null = null): void {
    this.started = false;
    this.reconnector.cancel();
    this.teardown();
    this.set({ status: auth ? 'auth' : 'error', error: message, notice: null, viewers: null, auth });
  }

  private teardown(): void {
    this.session++;
    this.watch?.stop();
    this.watch = null;
    this.clearConnectTimer();
    if (this.sig) {
      this.sig.send({ type: 'leave' });
      this.sig.close();
      this.sig = null;
    }
    if (this.pc) {
      this.pc.onicecandidate = null;
      this.pc.onconnectionstatechange = null;
      this.pc.close();
      this.pc = null;
    }
    this.sub?.close();
    this.sub = null;
    if (this.room !== EMPTY_ROOM) this.setRoom(EMPTY_ROOM);
    this.senders = {};
    this.remoteCandidates = [];
    this.localCandidates = [];
    this.ops = Promise.resolve();
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }
}
