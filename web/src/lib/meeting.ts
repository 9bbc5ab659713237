// Meeting is one participant's session in a meetd room, meeting or broadcast:
// it joins, publishes camera and microphone (and a screen share) on the
// publish connection while on stage, receives everyone else on the subscribe
// connection, and keeps the room's participants, chat and active speaker.
// It rejoins with backoff when the connection drops (or meetd restarts), and
// asks for a password when the room needs one. No React: the page listens to
// onChange (the whole state) and onEvent (things to announce).

import { t } from '../i18n';
import { isAuthError } from './auth';
import { ChatLog } from './chat';
import { initialState, type MeetingEvent, type MeetingOptions, type MeetingState } from './meeting-types';
import { Outgoing } from './outgoing';
import { diffParticipants } from './participants';
import { RecordingTracker } from './recording';
import type { IceServer, Role, ServerMessage } from './protocol';
import { Session } from './session';
import type { SignalingClient } from './signaling';
import type { SubscribeConnection } from './subscribe';
import { openIncoming } from './subscribe-watch';
import { ViewReporter } from './views';
import type { IceWatch } from './watch';

export type { ChatEntry } from './chat';
export type { MediaFlags, MeetingEvent, MeetingOptions, MeetingState, MeetingStatus } from './meeting-types';

/** Errors in reply to `join` that trying again will not fix (auth errors wait for a password). */
const JOIN_REFUSALS = new Set(['bad_room', 'bad_role', 'bad_kind', 'room_full', 'already_live', 'bad_message']);

export class Meeting extends Session {
  private readonly outgoing: Outgoing;
  private subscriber: SubscribeConnection | null = null;
  private iceServers: IceServer[] = [];
  private subscribeWatch: IceWatch | null = null;
  private joinPending = false;
  private firstParticipants = true;
  /** The last participants list was the audience's view: the stage and oneself. */
  private listStageOnly = false;
  /** The host's invitation to the stage waits for an answer. */
  private invited = false;
  private readonly chatLog = new ChatLog();
  private readonly recording = new RecordingTracker();
  /** publish() was called (or autoPublish); we publish whenever on stage. */
  private wantPublish: boolean;
  private state: MeetingState;
  /** How big each received video is shown; tiles report to it, it tells meetd (`view`). */
  readonly views: ViewReporter;

  constructor(private readonly opts: MeetingOptions) {
    super(opts);
    this.outgoing = new Outgoing({
      send: (msg) => this.sig?.send(msg),
      createPeerConnection: this.createPc,
      getStream: opts.getStream,
      restartAfterMs: opts.iceRestartAfterMs ?? 2000,
      giveUpAfterMs: opts.disconnectGraceMs ?? 15_000,
      onSending: (publishing) => this.set({ publishing }),
      onScreen: (screen) => {
        this.set({ media: { ...this.state.media, screen } });
        if (!screen) this.sendMedia();
      },
      onLost: () => this.drop(),
      onError: (message) => this.emit({ type: 'error', code: 'publish', message }),
    });
    this.wantPublish = opts.autoPublish ?? (opts.kind === 'meeting' && opts.role === 'stage');
    this.state = initialState(opts);
    this.views = new ViewReporter({
      // Only in the room: a view sent before `joined` would be refused, and rejoining sends them all again.
      send: (msg) => this.state.status === 'joined' && (this.sig?.send(msg) ?? false),
      quality: opts.quality,
    });
  }

  get current(): MeetingState {
    return this.state;
  }

  /** Leaves the room and closes everything. */
  stop(): void {
    this.end();
    this.outgoing.forgetScreen();
    this.set({ status: 'idle', auth: null, publishing: 'off', receiving: 'off', remote: new Map(), participants: [] });
  }

  /** Microphone and camera on or off; tells the room. */
  setMedia(audio: boolean, video: boolean): void {
    this.set({ media: { ...this.state.media, audio, video } });
    this.sendMedia();
  }

  /** Starts publishing camera and microphone (accepting an invitation to the stage). */
  publish(): void {
    this.wantPublish = true;
    if (this.state.status !== 'joined') return;
    if (this.state.role === 'stage') void this.outgoing.start(this.iceServers);
    else if (this.invited) this.acceptInvitation();
  }

  /** Accepts the host's invitation: meetd moves us to the stage (`role`), and we publish then. */
  private acceptInvitation(): void {
    const id = this.state.selfId;
    if (!id) return;
    this.invited = false;
    this.sig?.send({ type: 'role', id, role: 'stage' });
  }

  /**
   * Leaves the stage for the audience, or declines an invitation to it:
   * stops publishing and tells the room, so nobody sees an empty tile.
   */
  leaveStage(): boolean {
    this.wantPublish = false;
    const id = this.state.selfId;
    if (!id) return false;
    if (this.state.role !== 'stage') {
      // Declining: meetd drops the invitation, and the host sees it.
      if (!this.invited) return false;
      this.invited = false;
      return this.sig?.send({ type: 'role', id, role: 'audience' }) ?? false;
    }
    this.outgoing.close();
    this.outgoing.forgetScreen();
    this.set({ role: 'audience' });
    return this.sig?.send({ type: 'role', id, role: 'audience' }) ?? false;
  }

  /** Shares a screen next to the camera. Resolves when meetd has the new track. */
  async startScreen(stream: MediaStream): Promise<void> {
    if (this.state.status !== 'joined' || this.state.role !== 'stage') {
      throw new Error(t('errors.shareNeedsStage'));
    }
    await this.outgoing.startScreen(stream, this.iceServers);
    this.sendMedia();
  }

  /** Stops sharing the screen. */
  async stopScreen(): Promise<void> {
    await this.outgoing.stopScreen();
  }

  /** Swaps the camera or microphone while publishing (a device change); no new offer. */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack): Promise<void> {
    await this.outgoing.replaceTrack(kind, track);
  }

  /** Sends a chat message; false when not in the room. */
  sendChat(text: string): boolean {
    const t = text.trim();
    if (!t || this.state.status !== 'joined') return false;
    return this.sig?.send({ type: 'chat', text: t }) ?? false;
  }

  /** The host starts or stops recording the room; meetd answers with `recording` (or an error). */
  record(on: boolean): boolean {
    if (this.state.status !== 'joined') return false;
    this.recording.requested();
    return this.sig?.send({ type: 'record', on }) ?? false;
  }

  /** The host moves someone to the stage or the audience. */
  setRole(id: string, role: Role): boolean {
    return this.sig?.send({ type: 'role', id, role }) ?? false;
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

  protected override starting(): void {
    this.set({ status: 'connecting', error: null, auth: null });
  }

  protected override join(sig: SignalingClient): void {
    // A broadcast's guest rejoins the audience: only the streamer joins its stage by themselves.
    const role = this.opts.kind === 'broadcast' ? this.opts.role : this.state.role;
    const name = this.opts.name?.trim();
    this.joinPending = true;
    const join = { type: 'join', room: this.opts.room, kind: this.opts.kind, role } as const;
    sig.send({ ...join, ...(name ? { name } : {}), ...this.credentials.join });
    this.set({ unreachable: false });
  }

  protected override unreachable(): void {
    // Say so the first time; after a drop keep saying "Reconnecting…".
    if (this.state.status === 'connecting') this.set({ unreachable: true });
    this.drop();
  }

  protected override socketClosed(): void {
    this.drop();
  }

  protected override stepFailed(why: string): void {
    console.warn('meetd: media connection trouble:', why);
    this.drop();
  }

  protected override async handle(id: number, m: ServerMessage): Promise<void> {
    switch (m.type) {
      case 'joined':
        this.joinPending = false;
        this.iceServers = m.iceServers;
        this.firstParticipants = true;
        this.invited = false;
        this.chatLog.rejoined();
        this.recording.rejoined();
        this.reconnector.reset();
        this.set({
          status: 'joined',
          error: null,
          auth: null,
          unreachable: false,
          selfId: m.id,
          role: m.role,
          kind: m.kind,
          recording: null,
        });
        this.sendMedia();
        // meetd knows nothing of this session's views yet.
        this.views.reset();
        if (m.role === 'stage' && this.wantPublish) void this.outgoing.start(this.iceServers);
        return;
      case 'participants': {
        // The audience sees the stage and itself; the stage sees everyone.
        const stageOnly = this.state.role === 'audience';
        // A list of the other kind (after a role change) is a new view, not arrivals.
        if (!this.firstParticipants && stageOnly === this.listStageOnly) {
          const changes = diffParticipants(this.state.participants, m.participants, this.state.selfId, { stageOnly });
          for (const change of changes) this.emit({ type: 'people', change });
        }
        this.firstParticipants = false;
        this.listStageOnly = stageOnly;
        this.set({ participants: m.participants });
        // meetd closes the subscribe connection when nobody else is on stage.
        if (!this.othersOnStage()) this.closeSubscriber();
        return;
      }
      case 'role':
        this.roleChanged(m.role);
        return;
      case 'invited':
        this.invited = true;
        this.emit({ type: 'invited' });
        return;
      case 'chat':
        this.chat(m);
        return;
      case 'speaker':
        this.set({ speaker: m.id });
        return;
      case 'state':
        if (!m.live) this.closeSubscriber();
        // meetd says whether the room was live before we came, too (wasLive).
        this.set({ live: m.live, wasLive: this.state.wasLive || m.live || m.wasLive === true, viewers: m.viewers });
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
        this.outgoing.answer(m.sdp);
        return;
      case 'layers':
        this.outgoing.setLayers(m.track, m.active, m.paused);
        return;
      case 'candidate': {
        const target = m.target ?? (this.subscriber ? 'subscribe' : 'publish');
        if (target === 'publish') await this.outgoing.candidate(m.candidate);
        else await this.subscriber?.candidate(m.candidate);
        return;
      }
      case 'recording': {
        const event = this.recording.update(m);
        this.set({ recording: this.recording.current });
        if (event) this.emit({ type: 'recording', event });
        return;
      }
      case 'error':
        this.serverError(m.code, m.message);
        return;
    }
  }

  private roleChanged(role: Role): void {
    const was = this.state.role;
    this.set({ role });
    if (role === 'stage' && was === 'audience') {
      // What was set while watching was not sent: only the stage tells its media.
      this.sendMedia();
      if (this.wantPublish) void this.outgoing.start(this.iceServers);
      else this.emit({ type: 'invited' });
    } else if (role === 'audience' && was === 'stage') {
      this.wantPublish = false;
      this.outgoing.close();
      this.outgoing.forgetScreen();
      this.emit({ type: 'to-audience' });
    }
  }

  private chat(m: Extract<ServerMessage, { type: 'chat' }>): void {
    const entry = this.chatLog.add(m, this.state.selfId);
    this.set({ chat: this.chatLog.entries });
    if (!entry.history && !entry.self) this.emit({ type: 'chat', entry });
  }

  private serverError(code: string, message: string): void {
    const refused = this.recording.refusal(code, message);
    if (refused) {
      this.emit({ type: 'recording', event: refused });
      return;
    }
    if (code === 'shutting_down') {
      // meetd is restarting: not a failure, come back with the usual backoff.
      this.drop();
      return;
    }
    if (code === 'too_slow') {
      // meetd stopped sending to us (our network took too little for too
      // long): say so, and come back with fresh connections.
      this.emit({ type: 'error', code, message });
      this.drop();
      return;
    }
    if (this.joinPending && (JOIN_REFUSALS.has(code) || isAuthError(code))) {
      this.fail(code, message);
      return;
    }
    if (this.outgoing.offering && code !== 'rate_limited' && code !== 'not_host' && code !== 'not_found') {
      // meetd refused our offer: the call goes on without publishing.
      this.outgoing.refuse(message);
      return;
    }
    this.emit({ type: 'error', code, message });
  }

  /**
   * Opens the subscribe connection (see openIncoming). A connection with
   * nobody left to carry was closed by meetd, and just goes; otherwise a lost
   * one is mended by rejoining.
   */
  private openSubscriber(id: number): SubscribeConnection {
    this.closeSubscriber();
    const { conn, watch } = openIncoming({
      iceServers: this.iceServers,
      send: (msg) => this.sig?.send(msg),
      createPeerConnection: this.createPc,
      restartAfterMs: this.opts.iceRestartAfterMs ?? 2000,
      giveUpAfterMs: this.opts.disconnectGraceMs ?? 15_000,
      isCurrent: (c) => id === this.attemptId && c === this.subscriber,
      onStreams: (c) => {
        this.views.retain(c.streamIds());
        this.set({ remote: c.byParticipant() });
      },
      up: () => this.set({ receiving: 'on' }),
      down: () => this.set({ receiving: 'reconnecting' }),
      lost: () => {
        if (this.othersOnStage()) this.drop();
        else this.closeSubscriber();
      },
    });
    this.subscriber = conn;
    this.subscribeWatch = watch;
    this.set({ receiving: 'connecting' });
    return conn;
  }

  /** The device's network changed: the media paths may be gone; find new ones. */
  protected override networkChanged(): void {
    if (this.state.status !== 'joined') return;
    this.outgoing.restartIce();
    this.subscribeWatch?.kick();
  }

  private othersOnStage(): boolean {
    return this.state.participants.some((p) => p.role === 'stage' && p.id !== this.state.selfId);
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
    // Across a drop we cannot tell whether the stream ended or the server
    // went away: after rejoining, a stream that is not live yet is awaited,
    // not announced as ended.
    this.set({ status: 'reconnecting', speaker: '', wasLive: false });
    this.reconnector.schedule();
  }

  /**
   * meetd refused to let us in: stop and say why. A room that wants a password
   * waits for one (authenticate()); we never retry by ourselves with what it refused.
   */
  private fail(code: string, message: string): void {
    this.end();
    this.outgoing.forgetScreen();
    const auth = isAuthError(code) ? { code, message } : null;
    this.set({ status: auth ? 'auth' : 'error', error: { code, message }, auth });
  }

  protected override closeConnections(): void {
    this.joinPending = false;
    this.outgoing.close();
    this.closeSubscriber();
    // The participants stay on show while we rejoin; the next list replaces them.
    this.state = { ...this.state, live: false };
  }
}
