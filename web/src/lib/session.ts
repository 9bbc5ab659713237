// Session is what a meeting (meeting.ts) and the streamer page (publisher.ts)
// share of being in a meetd room: one attempt at a time on a signaling
// socket, that attempt's messages handled one at a time, the device's network
// watched, and rejoining with backoff until stopped. A subclass says how to
// join, what each message means and what a drop or a failure shows.

import { Credentials } from './auth';
import { watchNetwork } from './network';
import type { ServerMessage } from './protocol';
import { Reconnector, SignalingClient, type SocketFactory } from './signaling';

export interface SessionOptions {
  signalingUrl: string;
  /** The token or password to join with, kept in memory across reconnects. */
  credentials?: Credentials;
  createSocket?: SocketFactory;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  /** Calls back when the device's network changes (network.ts); returns a function that stops it. */
  watchNetwork?: (onChange: () => void) => () => void;
}

export abstract class Session {
  /** Between start() and stop() or a failure; only then does a drop rejoin. */
  protected started = false;
  /** Bumped by every attempt and teardown; callbacks of older attempts compare and give up. */
  protected attemptId = 0;
  protected sig: SignalingClient | null = null;
  /** Signaling work for the current attempt runs one step at a time. */
  private ops: Promise<void> = Promise.resolve();
  protected readonly reconnector = new Reconnector(() => this.attempt());
  private unwatchNetwork: (() => void) | null = null;
  protected readonly createPc: (config: RTCConfiguration) => RTCPeerConnection;
  protected readonly credentials: Credentials;

  constructor(private readonly link: SessionOptions) {
    this.createPc = link.createPeerConnection ?? ((c) => new RTCPeerConnection(c));
    this.credentials = link.credentials ?? new Credentials();
  }

  /** Joins the room. Does nothing if already started. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.reconnector.reset();
    this.starting();
    this.unwatchNetwork ??= (this.link.watchNetwork ?? watchNetwork)(() => this.networkChanged());
    this.attempt();
  }

  /** Joins again with the password the person typed (after status 'auth'). */
  authenticate(password: string): void {
    this.credentials.usePassword(password);
    this.started = false;
    this.start();
  }

  /** Stops for good: no more attempts, no more network watching, everything closed. */
  protected end(): void {
    this.started = false;
    this.reconnector.cancel();
    this.unwatchNetwork?.();
    this.unwatchNetwork = null;
    this.teardown();
  }

  /** Ends the current attempt: the subclass's connections, then the socket (saying leave). */
  protected teardown(): void {
    this.attemptId++;
    this.closeConnections();
    if (this.sig) {
      this.sig.send({ type: 'leave' });
      this.sig.close();
      this.sig = null;
    }
    this.ops = Promise.resolve();
  }

  /** start() was called: show that we are connecting. */
  protected abstract starting(): void;
  /** A new attempt's socket is opening (id is the attempt's). */
  protected attempting(_id: number): void {}
  /** The socket is open: send `join`. */
  protected abstract join(sig: SignalingClient): void;
  /** The socket did not open. */
  protected abstract unreachable(): void;
  /** One message of the current attempt, after the previous one's step is done. */
  protected abstract handle(id: number, m: ServerMessage): Promise<void>;
  /** A step of handle() threw (why says what). */
  protected abstract stepFailed(why: string): void;
  /** The socket closed without us closing it. */
  protected abstract socketClosed(): void;
  /** The device's network changed. */
  protected abstract networkChanged(): void;
  /** Closes the attempt's media connections and forgets what was only this attempt's. */
  protected abstract closeConnections(): void;

  private attempt(): void {
    this.teardown();
    const id = ++this.attemptId;
    const sig = new SignalingClient(this.link.signalingUrl, this.link.createSocket);
    this.sig = sig;
    sig.on('message', (m) => {
      if (id === this.attemptId) this.enqueue(id, () => this.handle(id, m));
    });
    sig.on('close', () => {
      if (id === this.attemptId) this.socketClosed();
    });
    sig.on('invalid', (err, text) => console.warn('meetd: ignoring a bad message:', err.message, text));
    this.attempting(id);
    sig.connect().then(
      () => {
        if (id === this.attemptId) this.join(sig);
      },
      () => {
        if (id === this.attemptId) this.unreachable();
      },
    );
  }

  private enqueue(id: number, step: () => Promise<void>): void {
    this.ops = this.ops
      .then(() => (id === this.attemptId ? step() : undefined))
      .catch((err: unknown) => {
        if (id !== this.attemptId) return;
        this.stepFailed(err instanceof Error ? err.message : String(err));
      });
  }
}
