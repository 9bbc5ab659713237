// A small WebSocket client for meetd's signaling socket at /ws: it decodes
// and checks every incoming message, and encodes outgoing ones.

import { t } from '../i18n';
import { decodeServerMessage, encode, type ClientMessage, type ServerMessage } from './protocol';

/** The part of the browser's WebSocket this client uses (so tests can fake it). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onclose: ((ev: CloseEvent) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  onmessage: ((ev: MessageEvent) => unknown) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => SocketLike;

const OPEN = 1;

/** The signaling URL for a page: ws(s)://host/ws, wss when the page is https. */
export function signalingUrl(loc: { protocol: string; host: string }): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${loc.host}/ws`;
}

/** The words to show when the socket could not be opened at all. */
export function unreachableMessage(host: string): string {
  return t('errors.unreachable', { host });
}

/** Thrown by connect() when the WebSocket never opened. */
export class UnreachableError extends Error {
  constructor(readonly url: string) {
    super(t('errors.socketNotOpen', { url }));
    this.name = 'UnreachableError';
  }
}

export interface CloseInfo {
  code: number;
  reason: string;
}

interface Events {
  message: (msg: ServerMessage) => void;
  /** The socket closed without close() being called. */
  close: (info: CloseInfo) => void;
  /** meetd sent something that is not a valid message; it is dropped. */
  invalid: (err: Error, text: string) => void;
}

type Handlers = { [K in keyof Events]: Set<Events[K]> };

export class SignalingClient {
  private socket: SocketLike | null = null;
  private closedByUs = false;
  private readonly handlers: Handlers = { message: new Set(), close: new Set(), invalid: new Set() };

  constructor(
    readonly url: string,
    private readonly createSocket: SocketFactory = (u) => new WebSocket(u),
  ) {}

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof Events>(event: K, handler: Events[K]): () => void {
    const set = this.handlers[event] as Set<Events[K]>;
    set.add(handler);
    return () => set.delete(handler);
  }

  get isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === OPEN && !this.closedByUs;
  }

  /** Opens the socket. Resolves once it is open; rejects with UnreachableError if it never opens. */
  connect(): Promise<void> {
    if (this.socket) throw new Error('SignalingClient.connect called twice');
    return new Promise((resolve, reject) => {
      let opened = false;
      let socket: SocketLike;
      try {
        socket = this.createSocket(this.url);
      } catch {
        reject(new UnreachableError(this.url));
        return;
      }
      this.socket = socket;
      socket.onopen = () => {
        opened = true;
        if (this.closedByUs) reject(new Error('signaling closed while connecting'));
        else resolve();
      };
      socket.onerror = () => {
        // A close event always follows; it decides what happened.
      };
      socket.onclose = (ev) => {
        if (!opened) {
          reject(new UnreachableError(this.url));
          return;
        }
        if (this.closedByUs) return;
        this.closedByUs = true; // nothing more will happen on this client
        for (const h of this.handlers.close) h({ code: ev.code, reason: ev.reason });
      };
      socket.onmessage = (ev) => {
        if (this.closedByUs || typeof ev.data !== 'string') return;
        let msg: ServerMessage;
        try {
          msg = decodeServerMessage(ev.data);
        } catch (err) {
          for (const h of this.handlers.invalid) h(err as Error, ev.data);
          return;
        }
        for (const h of this.handlers.message) h(msg);
      };
    });
  }

  /** Sends a message if the socket is open; returns whether it was sent. */
  send(msg: ClientMessage): boolean {
    if (!this.isOpen || !this.socket) return false;
    this.socket.send(encode(msg));
    return true;
  }

  /** Closes the socket. No close event follows for a close we asked for. */
  close(): void {
    this.closedByUs = true;
    const s = this.socket;
    if (s && (s.readyState === 0 || s.readyState === OPEN)) {
      s.close(1000, 'bye');
    }
  }
}

/** The wait before retry number `attempt` (0-based): 1s, 2s, 4s, … at most 10s. */
export function backoffDelay(attempt: number, baseMs = 1000, maxMs = 10_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
}

/**
 * Runs a retry function after growing delays. schedule() after every failure,
 * reset() after a success, cancel() to give up.
 */
export class Reconnector {
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly retry: () => void,
    private readonly baseMs = 1000,
    private readonly maxMs = 10_000,
  ) {}

  get pending(): boolean {
    return this.timer !== null;
  }

  /** Schedules the next retry, replacing one already scheduled; returns its delay in ms. */
  schedule(): number {
    this.cancel();
    const delay = backoffDelay(this.attempt, this.baseMs, this.maxMs);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.retry();
    }, delay);
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
