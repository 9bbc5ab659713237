// Outgoing is what one participant on stage sends, in a meeting or as a
// broadcast's streamer: camera and microphone, and a screen share, on its
// publish connection (publish.ts). It opens the connection when asked, swaps
// devices on it, restarts its ICE when the media path breaks, and closes it
// when the session drops or the participant leaves the stage. The screen
// share outlives a dropped connection: the next one carries it again.

import { t } from '../i18n';
import type { ClientMessage, IceCandidate, IceServer } from './protocol';
import { PublishConnection } from './publish';
import { IceWatch } from './watch';

/** 'reconnecting': the connection's media path is down; ICE restarts are mending it. */
export type SendingState = 'off' | 'connecting' | 'on' | 'reconnecting';

export interface OutgoingOptions {
  send: (msg: ClientMessage) => void;
  createPeerConnection: (config: RTCConfiguration) => RTCPeerConnection;
  /** The camera and microphone; read whenever a connection opens. */
  getStream: () => MediaStream | null;
  /** How long the connection may be `disconnected` before ICE is restarted. */
  restartAfterMs: number;
  /** How long it may stay down, ICE restarts and all, before it counts as lost. */
  giveUpAfterMs: number;
  /** How long meetd may take to answer an offer (publish.ts has a default). */
  answerTimeoutMs?: number;
  onSending: (state: SendingState) => void;
  /** The stream id of the screen share, empty when it ended. */
  onScreen: (id: string) => void;
  /** The publish connection broke, and ICE restarts did not mend it. */
  onLost: () => void;
  /** Publishing could not start; the call goes on without it. */
  onError: (message: string) => void;
}

function live(s: MediaStream | null): s is MediaStream {
  return s !== null && s.getTracks().some((t) => t.readyState === 'live');
}

export class Outgoing {
  private pub: PublishConnection | null = null;
  private watch: IceWatch | null = null;
  private screen: MediaStream | null = null;

  constructor(private readonly opts: OutgoingOptions) {}

  get open(): boolean {
    return this.pub !== null;
  }

  get sharing(): boolean {
    return this.screen !== null;
  }

  /** Whether an offer waits for meetd's answer. */
  get offering(): boolean {
    return this.pub?.offering ?? false;
  }

  /**
   * Opens the publish connection with the camera, microphone and screen share
   * there are. Resolves to whether meetd took them; nothing to send is no failure.
   */
  async start(iceServers: IceServer[]): Promise<boolean> {
    if (this.pub) return true;
    const camera = this.opts.getStream();
    const screen = live(this.screen) ? this.screen : null;
    if (!live(camera) && !screen) return true;
    const watch = new IceWatch({
      restartAfterMs: this.opts.restartAfterMs,
      giveUpAfterMs: this.opts.giveUpAfterMs,
      up: () => this.opts.onSending('on'),
      down: () => this.opts.onSending('reconnecting'),
      restart: () => {
        // A restart that fails (meetd did not answer) waits for the next kick or gives up.
        if (pub === this.pub) pub.restartIce().catch(() => {});
      },
      lost: () => {
        if (pub === this.pub) this.opts.onLost();
      },
    });
    const pub = new PublishConnection({
      iceServers,
      send: this.opts.send,
      createPeerConnection: this.opts.createPeerConnection,
      answerTimeoutMs: this.opts.answerTimeoutMs,
      onState: (s) => {
        if (pub === this.pub) watch.update(s);
      },
    });
    this.pub = pub;
    this.watch = watch;
    this.opts.onSending('connecting');
    try {
      await pub.start(live(camera) ? camera : null, screen);
      return true;
    } catch (err) {
      if (pub !== this.pub) return false;
      const why = err instanceof Error ? err.message : String(err);
      this.close();
      this.opts.onError(t('errors.sendFailed', { why }));
      return false;
    }
  }

  /** Shares a screen next to the camera. Resolves when meetd has the new track. */
  async startScreen(stream: MediaStream, iceServers: IceServer[]): Promise<void> {
    if (this.screen) throw new Error(t('errors.screenShared'));
    this.screen = stream;
    for (const t of stream.getTracks()) t.addEventListener?.('ended', this.onScreenEnded);
    this.opts.onScreen(stream.id);
    try {
      if (this.pub) await this.pub.addScreen(stream);
      else if (!(await this.start(iceServers))) throw new Error(t('errors.publishFailed'));
    } catch (err) {
      if (this.screen === stream) this.forgetScreen();
      throw err;
    }
  }

  /** Stops sharing the screen. */
  async stopScreen(): Promise<void> {
    if (!this.screen) return;
    this.forgetScreen();
    await this.pub?.removeScreen();
  }

  /** Swaps the camera or microphone (a device change); no new offer when that kind is sent already. */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack): Promise<void> {
    await this.pub?.replaceTrack(kind, track);
  }

  /** Restarts ICE on the publish connection (the network changed). */
  restartIce(): void {
    if (this.pub?.pc.connectionState === 'new') return;
    this.watch?.kick();
  }

  /** meetd's `layers`: which layers of the camera to pause; the others are sent. */
  setLayers(track: string, active: readonly string[], paused?: readonly string[]): void {
    this.pub?.setLayers(track, active, paused).catch((err: unknown) => {
      console.warn('meetd: could not change the camera layers:', err instanceof Error ? err.message : String(err));
    });
  }

  answer(sdp: string): void {
    this.pub?.answer(sdp);
  }

  async candidate(c: IceCandidate): Promise<void> {
    await this.pub?.candidate(c);
  }

  /** meetd refused our offer; false when no offer was waiting. */
  refuse(message: string): boolean {
    return this.pub?.refuse(message) ?? false;
  }

  /** Closes the publish connection; the screen share stays for the next one. */
  close(): void {
    this.watch?.stop();
    this.watch = null;
    if (!this.pub) return;
    this.pub.close();
    this.pub = null;
    this.opts.onSending('off');
  }

  /** Ends the screen share and stops its tracks. */
  forgetScreen(): void {
    const s = this.screen;
    this.screen = null;
    for (const t of s?.getTracks() ?? []) {
      t.removeEventListener?.('ended', this.onScreenEnded);
      t.stop?.();
    }
    if (s) this.opts.onScreen('');
  }

  private onScreenEnded = (): void => {
    // The browser's own "Stop sharing".
    void this.stopScreen().catch(() => {});
  };
}
