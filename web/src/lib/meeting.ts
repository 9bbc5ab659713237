// Meeting is one participant's session in a meetd room, meeting or broadcast:
// it joins, publishes camera and microphone (and a screen share) on the
// publish connection while on stage, receives everyone else on the subscribe
// connection, and keeps the room's participants, chat and active speaker.
// It rejoins with backoff when the connection drops. No React: the page
// listens to onChange (the whole state) and onEvent (things to announce).

import { ChatLog } from './chat';
import type { MeetingEvent, MeetingOptions, MeetingState } from './meeting-types';
import { diffParticipants } from './participants';
import type { IceServer, Role, ServerMessage } from './protocol';
import { PublishConnection } from './publish';
import { Reconnector, SignalingClient } from './signaling';
import { SubscribeConnection } from './subscribe';
import { ConnectionWatch } from './watch';

export type { ChatEntry } from './chat';
export type { MediaFlags, MeetingEvent, MeetingOptions, MeetingState, MeetingStatus } from './meeting-types';

/** Errors in reply to `join` that trying again will not fix. */
const JOIN_REFUSALS = new Set(['bad_room', 'bad_role', 'bad_kind', 'room_full', 'already_live', 'bad_message']);

export class Meeting {
  private started = false;
  private session = 0;
  private sig: SignalingClient | null = null;
  private publisher: PublishConnection | null = null;
  private subscriber: SubscribeConnection | null = null;
  private iceServers: IceServer[] = [];
  private ops: Promise<void> = Promise.resolve();
  private readonly reconnector = new Reconnector(() => this.attempt());
  private publishWatch: ConnectionWatch | null = null;
  private subscribeWatch: ConnectionWatch | null = null;
  private readonly createPc: (config: RTCConfiguration) => RTCPeerConnection;
  private joinPending = false;
  private firstParticipants = true;
  private readonly chatLog = new ChatLog();
  /** publish() was called (or autoPublish); we publish whenever on stage. */
  private wantPublish: boolean;
  private screen: MediaStream | null = null;
  private state: MeetingState;

  constructor(private readonly opts: MeetingOptions) {
    this.createPc = opts.createPeerConnection ?? ((c) => new RTCPeerConnection(c));
    this.wantPublish = opts.autoPublish ?? (opts.kind === 'meeting' && opts.role === 'stage');
    const media = opts.media ?? { audio: true, video: true };
    this.state = {
      status: 'idle',
      error: null,
      unreachable: false,
      kind: opts.kind,
      selfId: null,
      role: opts.role,
      participants: [],
      speaker: '',
      live: false,
      wasLive: false,
      viewers: null,
      publishing: 'off',
      receiving: 'off',
      remote: new Map(),
      chat: [],
      media: { ...media, screen: '' },
    };
  }

  get current(): MeetingState {
    return this.state;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.reconnector.reset();
    this.set({ status: 'connecting', error: null });
    this.attempt();
  }

  /** Leaves the room and closes everything. */
  stop(): void {
    this.started = false;
    this.reconnector.cancel();
    this.teardown();
    this.stopScreenTracks();
    this.set({ status: 'idle', publishing: 'off', receiving: 'off', remote: new Map(), participants: [] });
  }

  /** Microphone and camera on or off; tells the room. */
  setMedia(audio: boolean, video: boolean): void {
    this.set({ media: { ...this.state.media, audio, video } });
    this.sendMedia();
  }

  /** Starts publishing camera and microphone (accepting an invitation to the stage). */
  publish(): void {
    this.wantPublish = true;
    if (this.state.status === 'joined' && this.state.role === 'stage' && !this.publisher) {
      void this.startPublishing(this.session);
    }
  }

  /** Shares a screen next to the camera. Resolves when meetd has the new track. */
  async startScreen(stream: MediaStream): Promise<void> {
    if (this.screen) throw new Error('A screen is shared already.');
    if (this.state.status !== 'joined' || this.state.role !== 'stage') {
      throw new Error('Join the stage before sharing your screen.');
    }
    this.screen = stream;
    for (const t of stream.getTracks()) t.addEventListener?.('ended', this.onScreenEnded);
    this.set({ media: { ...this.state.media, screen: stream.id } });
    try {
      if (this.publisher) await this.publisher.addScreen(stream);
      else if (!(await this.startPublishing(this.session))) throw new Error('Could not publish.');
    } catch (err) {
      if (this.screen === stream) this.forgetScreen();
      throw err;
    }
    this.sendMedia();
  }

  /** Stops sharing the screen. */
  async stopScreen(): Promise<void> {
    if (!this.screen) return;
    this.forgetScreen();
    this.sendMedia();
    await this.publisher?.removeScreen();
  }

  /** Swaps the camera or microphone while publishing (a device change). */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack): Promise<void> {
    await this.publisher?.replaceTrack(kind, track);
  }

  /** Sends a chat message; false when not in the room. */
  sendChat(text: string): boolean {
    const t = text.trim();
    if (!t || this.state.status !== 'joined') return false;
    return this.sig?.send({ type: 'chat', text: t }) ?? false;
  }

  /** The host moves someone to the stage or the audience. */
  setRole(id: string, role: Role): boolean {
    return this.sig?.send({ type: 'role', id, role }) ?? false;
  }

  private onScreenEnded = (): void => {
    // The browser's own "Stop sharing".
    void this.stopScreen().catch(() => {});
  };

  private forgetScreen(): void {
    this.stopScreenTracks();
    this.set({ media: { ...this.state.media, screen: '' } });
  }

  private stopScreenTracks(): void {
    const s = this.screen;
    this.screen = null;
    for (const t of s?.getTracks() ?? []) {
      t.removeEventListener?.('ended', this.onScreenEnded);
      t.stop?.();
    }
  }

  private set(patch: Partial<MeetingState>): void {
    this.state = { ...this.state, ...patch };
    this.opts.onChange(this.state);
  }

  private emit(ev: MeetingEvent): void {
    this.opts.onEvent?.(ev);
  }

  private sendMedia(): void {
    if (this.state.status !== 'joined' || this.state.role !== 'stage') return;
    const { audio, video, screen } = this.state.media;
    this.sig?.send({ type: 'media', audio, video, screen });
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
        // A broadcast's guest rejoins the audience: only the streamer joins its stage by themselves.
        const role = this.opts.kind === 'broadcast' ? this.opts.role : this.state.role;
        const name = this.opts.name?.trim();
        this.joinPending = true;
        sig.send({ type: 'join', room: this.opts.room, kind: this.opts.kind, role, ...(name ? { name } : {}) });
        this.set({ unreachable: false });
      },
      () => {
        if (id !== this.session) return;
        // Say so the first time; after a drop keep saying "Reconnecting…".
        if (this.state.status === 'connecting') this.set({ unreachable: true });
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
        console.warn('meetd: media connection trouble:', why);
        this.drop();
      });
  }

  private async handle(id: number, m: ServerMessage): Promise<void> {
    switch (m.type) {
      case 'joined':
        this.joinPending = false;
        this.iceServers = m.iceServers;
        this.firstParticipants = true;
        this.chatLog.rejoined();
        this.reconnector.reset();
        this.set({ status: 'joined', error: null, unreachable: false, selfId: m.id, role: m.role, kind: m.kind });
        this.sendMedia();
        if (m.role === 'stage' && this.wantPublish) void this.startPublishing(id);
        return;
      case 'participants': {
        if (!this.firstParticipants) {
          const stageOnly = this.state.kind === 'broadcast' && this.state.role === 'audience';
          const changes = diffParticipants(this.state.participants, m.participants, this.state.selfId, { stageOnly });
          for (const change of changes) this.emit({ type: 'people', change });
        }
        this.firstParticipants = false;
        this.set({ participants: m.participants });
        // meetd closes the subscribe connection when nobody else is on stage.
        if (!this.othersOnStage()) this.closeSubscriber();
        return;
      }
      case 'role':
        this.roleChanged(id, m.role);
        return;
      case 'chat':
        this.chat(m);
        return;
      case 'speaker':
        this.set({ speaker: m.id });
        return;
      case 'state':
        if (!m.live) this.closeSubscriber();
        this.set({ live: m.live, wasLive: this.state.wasLive || m.live, viewers: m.viewers });
        return;
      case 'offer': {
        let sub = this.subscriber;
        // An offer from a different DTLS certificate is a new connection: meetd dropped the old one.
        if (!sub || sub.isClosed || !sub.renegotiates(m.sdp)) sub = this.openSubscriber(id);
        this.set({ wasLive: true });
        await sub.offer(m.sdp);
        return;
      }
      case 'answer':
        this.publisher?.answer(m.sdp);
        return;
      case 'candidate': {
        const target = m.target ?? (this.subscriber ? 'subscribe' : 'publish');
        if (target === 'publish') await this.publisher?.candidate(m.candidate);
        else await this.subscriber?.candidate(m.candidate);
        return;
      }
      case 'error':
        this.serverError(m.code, m.message);
        return;
    }
  }

  private roleChanged(id: number, role: Role): void {
    const was = this.state.role;
    this.set({ role });
    if (role === 'stage' && was === 'audience') {
      if (this.wantPublish) void this.startPublishing(id);
      else this.emit({ type: 'invited' });
    } else if (role === 'audience' && was === 'stage') {
      this.wantPublish = false;
      this.closePublisher();
      this.forgetScreen();
      this.emit({ type: 'to-audience' });
    }
  }

  private chat(m: Extract<ServerMessage, { type: 'chat' }>): void {
    const entry = this.chatLog.add(m, this.state.selfId);
    this.set({ chat: this.chatLog.entries });
    if (!entry.history && !entry.self) this.emit({ type: 'chat', entry });
  }

  private serverError(code: string, message: string): void {
    if (this.joinPending && JOIN_REFUSALS.has(code)) {
      this.fail(code, message);
      return;
    }
    if (this.publisher?.offering && code !== 'rate_limited' && code !== 'not_host' && code !== 'not_found') {
      // meetd refused our offer: the call goes on without publishing.
      this.publisher.refuse(message);
      return;
    }
    this.emit({ type: 'error', code, message });
  }

  /**
   * Opens the publish connection with the camera, microphone and screen share
   * there are. Resolves to whether meetd took them; nothing to send is no failure.
   */
  private async startPublishing(id: number): Promise<boolean> {
    if (this.publisher || id !== this.session) return this.publisher !== null;
    const camera = this.opts.getStream();
    const live = (s: MediaStream | null) => s !== null && s.getTracks().some((t) => t.readyState === 'live');
    const screen = live(this.screen) ? this.screen : null;
    if (!live(camera) && !screen) return true;
    const watch = this.watch(id, 'publish');
    const pub = new PublishConnection({
      iceServers: this.iceServers,
      send: (msg) => this.sig?.send(msg),
      createPeerConnection: this.createPc,
      onState: (s) => {
        if (id === this.session && pub === this.publisher) watch.update(s);
      },
    });
    this.publisher = pub;
    this.publishWatch = watch;
    this.set({ publishing: 'connecting' });
    try {
      await pub.start(live(camera) ? camera : null, screen);
      return true;
    } catch (err) {
      if (id !== this.session || pub !== this.publisher) return false;
      const why = err instanceof Error ? err.message : String(err);
      this.closePublisher();
      this.emit({ type: 'error', code: 'publish', message: `Could not send your camera and microphone (${why}).` });
      return false;
    }
  }

  private openSubscriber(id: number): SubscribeConnection {
    this.closeSubscriber();
    const watch = this.watch(id, 'subscribe');
    const sub = new SubscribeConnection({
      iceServers: this.iceServers,
      send: (msg) => this.sig?.send(msg),
      createPeerConnection: this.createPc,
      onState: (s) => {
        if (id === this.session && sub === this.subscriber) watch.update(s);
      },
      onStreams: () => {
        if (id === this.session && sub === this.subscriber) this.set({ remote: sub.byParticipant() });
      },
    });
    this.subscriber = sub;
    this.subscribeWatch = watch;
    this.set({ receiving: 'connecting' });
    return sub;
  }

  private watch(id: number, which: 'publish' | 'subscribe'): ConnectionWatch {
    return new ConnectionWatch(this.opts.disconnectGraceMs ?? 4000, {
      up: () => this.set(which === 'publish' ? { publishing: 'on' } : { receiving: 'on' }),
      lost: () => {
        if (id === this.session) this.mediaLost(which);
      },
    });
  }

  /**
   * A media connection broke. meetd offers the subscribe connection, so we
   * cannot restart its ICE: rejoining gets a fresh one. A subscribe connection
   * with nobody left to carry was closed by meetd, and just goes.
   */
  private mediaLost(which: 'publish' | 'subscribe'): void {
    if (which === 'subscribe' && !this.othersOnStage()) this.closeSubscriber();
    else this.drop();
  }

  private othersOnStage(): boolean {
    return this.state.participants.some((p) => p.role === 'stage' && p.id !== this.state.selfId);
  }

  private closePublisher(): void {
    this.publishWatch?.stop();
    this.publishWatch = null;
    this.publisher?.close();
    this.publisher = null;
    if (this.state.publishing !== 'off') this.set({ publishing: 'off' });
  }

  private closeSubscriber(): void {
    this.subscribeWatch?.stop();
    this.subscribeWatch = null;
    if (!this.subscriber) return;
    this.subscriber.close();
    this.subscriber = null;
    this.set({ receiving: 'off', remote: new Map() });
  }

  /** The connection broke: tear down and rejoin after a while. */
  private drop(): void {
    if (!this.started) return;
    this.teardown();
    this.set({ status: 'reconnecting', speaker: '' });
    this.reconnector.schedule();
  }

  /** meetd refused to let us in: stop and say why. */
  private fail(code: string, message: string): void {
    this.started = false;
    this.reconnector.cancel();
    this.teardown();
    this.stopScreenTracks();
    this.set({ status: 'error', error: { code, message } });
  }

  private teardown(): void {
    this.session++;
    this.joinPending = false;
    this.closePublisher();
    this.closeSubscriber();
    if (this.sig) {
      this.sig.send({ type: 'leave' });
      this.sig.close();
      this.sig = null;
    }
    this.ops = Promise.resolve();
    // The participants stay on show while we rejoin; the next list replaces them.
    this.state = { ...this.state, live: false };
  }
}
