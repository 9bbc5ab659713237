// Publisher streams local camera and microphone into a meetd broadcast: it
// joins the room on stage and sends them on its publish connection
// (outgoing.ts, as a meeting does). When that connection's media path breaks
// it restarts ICE in place and says "Reconnecting…"; only when that does not
// mend it, or the session drops, or meetd restarts, does it rejoin with
// backoff. A room that needs a password waits for one (authenticate()); an
// invitation token goes in every join. As the broadcast's host it also
// follows who is in the room, moves viewers onto the stage and back, and
// receives the guests it invited on a subscribe connection. It knows nothing
// about React; the page listens to onChange and onRoom.

import { serverErrorText, t } from '../i18n';
import { isAuthError, type AuthPrompt } from './auth';
import { Outgoing, type SendingState } from './outgoing';
import type { IceServer, Role, ServerMessage } from './protocol';
import {
  EMPTY_ROOM,
  type PublisherOptions,
  type PublisherRoom,
  type PublisherState,
} from './publisher-types';
import { RecordingTracker } from './recording';
import { Session } from './session';
import { unreachableMessage, type SignalingClient } from './signaling';
import type { SubscribeConnection } from './subscribe';
import { openIncoming } from './subscribe-watch';
import type { IceWatch } from './watch';
import { ViewReporter } from './views';

export { EMPTY_ROOM } from './publisher-types';
export type { PublisherOptions, PublisherRoom, PublisherState, PublisherStatus } from './publisher-types';

type Kind = 'audio' | 'video';

export class Publisher extends Session {
  private state: PublisherState = { status: 'idle', error: null, notice: null, viewers: null, auth: null };
  /** The publish connection and its ICE restarts. */
  private readonly outgoing: Outgoing;
  /** The publish connection was live and its path broke: ICE restarts are mending it. */
  private mending = false;
  /** Guests' media, once meetd offers some. */
  private sub: SubscribeConnection | null = null;
  /** Follows the guests' connection while there is one. */
  private guestWatch: IceWatch | null = null;
  private iceServers: IceServer[] = [];
  private room: PublisherRoom = EMPTY_ROOM;
  private media = { audio: true, video: true };
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly recording = new RecordingTracker();

  /** How big each guest's video is shown; tiles report to it, it tells meetd (`view`). */
  readonly views: ViewReporter;

  constructor(private readonly opts: PublisherOptions) {
    super(opts);
    const connectTimeoutMs = opts.connectTimeoutMs ?? 20_000;
    this.outgoing = new Outgoing({
      send: (msg) => this.sig?.send(msg),
      createPeerConnection: this.createPc,
      getStream: opts.getStream,
      restartAfterMs: opts.iceRestartAfterMs ?? 2000,
      giveUpAfterMs: opts.disconnectGraceMs ?? 15_000,
      // No longer than an attempt may take: its timer retries, where a failed offer would stop.
      answerTimeoutMs: connectTimeoutMs,
      onSending: (s) => this.sending(s),
      onScreen: () => {},
      onLost: () => this.drop(t('errors.mediaLost')),
      onError: (message) => this.fail(message),
    });
    this.views = new ViewReporter({
      // Only in the room: rejoining sends them all again.
      send: (msg) => this.room.selfId !== null && (this.sig?.send(msg) ?? false),
      quality: opts.quality,
    });
  }

  get current(): PublisherState {
    return this.state;
  }

  /** Stops streaming: says leave, closes everything, and goes back to idle. */
  stop(): void {
    this.end();
    this.set({ status: 'idle', error: null, notice: null, viewers: null, auth: null });
  }

  /**
   * Sends a different camera or microphone track. No new offer when that
   * kind is sent already; a kind that was not is added with one.
   */
  async replaceTrack(kind: Kind, track: MediaStreamTrack): Promise<void> {
    await this.outgoing.replaceTrack(kind, track);
  }

  /** Microphone and camera on or off, for the participants list; sent now and after every join. */
  setMedia(audio: boolean, video: boolean): void {
    this.media = { audio, video };
    if (this.room.selfId) this.sig?.send({ type: 'media', audio, video, screen: '' });
  }

  /** Starts or stops recording the broadcast; meetd answers with `recording` (or an error). */
  record(on: boolean): boolean {
    if (this.room.selfId === null) return false;
    this.recording.requested();
    return this.sig?.send({ type: 'record', on }) ?? false;
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

  /** The publish connection is up, or its path broke while live (the ICE restarts are Outgoing's). */
  private sending(s: SendingState): void {
    if (!this.started) return;
    if (s === 'on') {
      this.mending = false;
      this.clearConnectTimer();
      this.reconnector.reset();
      this.set({ status: 'live', error: null, notice: null });
    } else if (s === 'reconnecting' && this.state.status === 'live') {
      // Before it was ever live the attempt's timer is still running, and says 'connecting'.
      this.mending = true;
      this.set({ status: 'reconnecting', notice: t('errors.interrupted') });
    }
  }

  protected override starting(): void {
    this.set({ status: 'connecting', error: null, notice: null, viewers: null, auth: null });
  }

  protected override attempting(id: number): void {
    const timeout = this.opts.connectTimeoutMs ?? 20_000;
    this.connectTimer = setTimeout(() => {
      if (id === this.attemptId) this.drop(t('errors.setupSlow'));
    }, timeout);
  }

  protected override join(sig: SignalingClient): void {
    const name = this.opts.name?.trim();
    sig.send({ type: 'join', room: this.opts.room, role: 'stage', ...(name ? { name } : {}), ...this.credentials.join });
  }

  protected override unreachable(): void {
    const words = unreachableMessage(this.opts.host);
    // The first try fails plainly; once we were going, keep retrying.
    if (this.state.status === 'connecting') this.fail(words);
    else this.drop(words);
  }

  protected override socketClosed(): void {
    this.drop(t('errors.socketLost'));
  }

  protected override stepFailed(why: string): void {
    this.fail(t('errors.setupFailed', { why }));
  }

  protected override async handle(id: number, m: ServerMessage): Promise<void> {
    switch (m.type) {
      case 'joined':
        this.iceServers = m.iceServers;
        this.recording.rejoined();
        this.setRoom({ selfId: m.id, recording: null });
        this.sig?.send({ type: 'media', ...this.media, screen: '' });
        // meetd knows nothing of this session's views yet.
        this.views.reset();
        if (!this.outgoing.open) this.publish();
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
      case 'invited':
      case 'chat':
        return;
      case 'answer':
        this.outgoing.answer(m.sdp);
        return;
      case 'layers':
        this.outgoing.setLayers(m.track, m.active, m.paused);
        return;
      case 'candidate':
        if (m.target === 'subscribe') await this.sub?.candidate(m.candidate);
        else await this.outgoing.candidate(m.candidate);
        return;
      case 'state':
        this.set({ viewers: m.viewers });
        return;
      case 'recording': {
        const event = this.recording.update(m);
        this.setRoom({ recording: this.recording.current });
        if (event) this.opts.onRecording?.(event);
        return;
      }
      case 'error':
        this.serverError(m.code, m.message);
        return;
    }
  }

  /** Opens the publish connection with the camera and microphone. */
  private publish(): void {
    const live = this.opts.getStream().getTracks().some((t) => t.readyState === 'live');
    if (!live) {
      this.fail(t('errors.noMedia'));
      return;
    }
    // Not awaited: meetd's answer comes through the queue this runs in.
    void this.outgoing.start(this.iceServers);
  }

  /** meetd offers the guests' media: answer on the open connection, or a new one. */
  private async guestOffer(id: number, sdp: string): Promise<void> {
    let sub = this.sub;
    if (!sub || sub.isClosed || !sub.renegotiates(sdp)) {
      this.closeGuests();
      // Losing the guests for good must not stop the broadcast: let them go.
      const { conn: next, watch } = openIncoming({
        iceServers: this.iceServers,
        send: (msg) => this.sig?.send(msg),
        createPeerConnection: this.createPc,
        restartAfterMs: this.opts.iceRestartAfterMs ?? 2000,
        giveUpAfterMs: this.opts.disconnectGraceMs ?? 15_000,
        isCurrent: (c) => id === this.attemptId && c === this.sub,
        onStreams: (c) => {
          this.views.retain(c.streamIds());
          this.setRoom({ remote: c.byParticipant() });
        },
        lost: () => this.closeGuests(),
      });
      this.sub = next;
      this.guestWatch = watch;
      sub = next;
    }
    await sub.offer(sdp);
  }

  private closeGuests(): void {
    this.guestWatch?.stop();
    this.guestWatch = null;
    if (!this.sub) return;
    this.sub.close();
    this.sub = null;
    this.setRoom({ remote: new Map() });
  }

  /** The device's network changed: the media path may be gone; find a new one. */
  protected override networkChanged(): void {
    if (this.room.selfId === null) return;
    this.outgoing.restartIce();
    this.guestWatch?.kick();
  }

  private serverError(code: string, raw: string): void {
    const refused = this.recording.refusal(code, raw);
    if (refused) {
      this.opts.onRecording?.(refused);
      return;
    }
    const message = serverErrorText(code, raw);
    if (code === 'shutting_down') {
      // meetd is restarting: not a failure, come back with the usual backoff.
      this.drop(message);
    } else if (isAuthError(code)) {
      // Wait for a password; never retry by ourselves with what was refused.
      this.fail(message, { code, message });
    } else if (this.state.status === 'live' || this.mending) {
      // The stream is running, or being mended; say what happened but keep
      // going. A refused ICE restart leaves the next one (or a rejoin) to Outgoing.
      this.outgoing.refuse(message);
      if (this.state.status === 'live') this.set({ notice: message });
    } else if (this.state.status === 'reconnecting' && code === 'already_live') {
      // meetd may not have noticed yet that our previous connection is gone.
      this.drop(message);
    } else {
      this.fail(message);
    }
  }

  /** The session broke: tear down and rejoin after a while. */
  private drop(reason: string): void {
    if (!this.started) return;
    this.teardown();
    this.set({ status: 'reconnecting', notice: reason });
    this.reconnector.schedule();
  }

  /** Give up: show the error (or ask for a password) and stop. */
  private fail(message: string, auth: AuthPrompt | null = null): void {
    this.end();
    this.set({ status: auth ? 'auth' : 'error', error: message, notice: null, viewers: null, auth });
  }

  protected override closeConnections(): void {
    this.mending = false;
    this.clearConnectTimer();
    this.outgoing.close();
    this.sub?.close();
    this.sub = null;
    if (this.room !== EMPTY_ROOM) this.setRoom(EMPTY_ROOM);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }
}
