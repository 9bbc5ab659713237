// Stand-ins for the browser's WebSocket, RTCPeerConnection and MediaStream,
// for tests of the signaling, publisher and subscriber logic in Node.

import type { SocketLike } from './signaling';

export class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((ev: Event) => unknown) | null = null;
  onclose: ((ev: CloseEvent) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  onmessage: ((ev: MessageEvent) => unknown) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  static latest(): FakeSocket {
    const s = FakeSocket.all[FakeSocket.all.length - 1];
    if (!s) throw new Error('no socket was opened');
    return s;
  }

  /** The server accepts the connection. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({} as Event);
  }

  /** The connection cannot be made. */
  fail(): void {
    this.readyState = 3;
    this.onerror?.({} as Event);
    this.onclose?.({ code: 1006, reason: '' } as CloseEvent);
  }

  /** The server (or the network) closes the connection. */
  drop(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' } as CloseEvent);
  }

  receive(msg: unknown): void {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) } as MessageEvent);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  /** Sent messages of one type. */
  sentOf(type: string): Record<string, unknown>[] {
    return (this.sent as Record<string, unknown>[]).filter((m) => m.type === type);
  }

  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code: 1000, reason: 'bye' } as CloseEvent);
  }
}

export interface FakeSender {
  track: MediaStreamTrack | null;
  replaced: (MediaStreamTrack | null)[];
  replaceTrack(t: MediaStreamTrack | null): Promise<void>;
  /** The encodings as the browser keeps them: one per simulcast layer, else one without a rid. */
  params: RTCRtpSendParameters;
  /** Every setParameters call, in order. */
  setParams: RTCRtpSendParameters[];
  getParameters(): RTCRtpSendParameters;
  setParameters(p: RTCRtpSendParameters): Promise<void>;
}

export class FakePeerConnection {
  static all: FakePeerConnection[] = [];
  connectionState: RTCPeerConnectionState = 'new';
  localDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  remoteDescriptions: RTCSessionDescriptionInit[] = [];
  transceivers: { track: MediaStreamTrack | string; init?: RTCRtpTransceiverInit; sender: FakeSender }[] = [];
  /** Senders given to removeTrack. */
  removed: FakeSender[] = [];
  /** Offers made, in order, and the options of each. */
  offers = 0;
  offerOptions: (RTCOfferOptions | undefined)[] = [];
  candidates: RTCIceCandidateInit[] = [];
  closed = false;
  onicecandidate: ((ev: { candidate: unknown }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  ontrack: ((ev: { track: MediaStreamTrack; streams: MediaStream[] }) => void) | null = null;

  constructor(readonly config: RTCConfiguration) {
    FakePeerConnection.all.push(this);
  }

  static latest(): FakePeerConnection {
    const pc = FakePeerConnection.all[FakePeerConnection.all.length - 1];
    if (!pc) throw new Error('no peer connection was made');
    return pc;
  }

  addTransceiver(track: MediaStreamTrack | string, init?: RTCRtpTransceiverInit) {
    let transaction = 0;
    const copy = (p: RTCRtpSendParameters) => ({ ...p, encodings: p.encodings.map((e) => ({ ...e })) });
    const sender: FakeSender = {
      track: typeof track === 'string' ? null : track,
      replaced: [],
      async replaceTrack(t) {
        sender.replaced.push(t);
        sender.track = t;
      },
      params: {
        transactionId: '0',
        encodings: (init?.sendEncodings ?? [{}]).map((e) => ({ active: true, ...e })),
      } as RTCRtpSendParameters,
      setParams: [],
      // As the browser does: each get starts a transaction that the next set must carry.
      getParameters() {
        sender.params.transactionId = String(++transaction);
        return copy(sender.params);
      },
      async setParameters(p) {
        if (p.transactionId !== sender.params.transactionId) throw new Error('InvalidStateError: stale parameters');
        sender.setParams.push(copy(p));
        sender.params = copy(p);
        sender.params.transactionId = '';
      },
    };
    this.transceivers.push({ track, init, sender });
    return { sender };
  }

  async createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit> {
    this.offers++;
    this.offerOptions.push(options);
    return { type: 'offer', sdp: this.offers === 1 ? 'v=0 local-offer' : `v=0 local-offer ${this.offers}` };
  }

  removeTrack(sender: FakeSender): void {
    this.removed.push(sender);
    sender.track = null;
  }

  async createAnswer(): Promise<RTCSessionDescriptionInit> {
    return { type: 'answer', sdp: 'v=0 local-answer' };
  }

  async setLocalDescription(d: RTCSessionDescriptionInit): Promise<void> {
    this.localDescription = d;
  }

  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    this.remoteDescription = d;
    this.remoteDescriptions.push(d);
  }

  async addIceCandidate(c: RTCIceCandidateInit): Promise<void> {
    this.candidates.push(c);
  }

  close(): void {
    this.closed = true;
    this.connectionState = 'closed';
  }

  /** The browser changes the connection state. */
  setState(state: RTCPeerConnectionState): void {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }

  /** The browser finds a local candidate. */
  gather(candidate: RTCIceCandidateInit): void {
    this.onicecandidate?.({ candidate: { toJSON: () => candidate } });
  }

  /** A remote track arrives. */
  track(track: MediaStreamTrack, streams: MediaStream[] = []): void {
    this.ontrack?.({ track, streams });
  }

  /** Cast for the factory the publisher and subscriber take. */
  static factory = (config: RTCConfiguration): RTCPeerConnection =>
    new FakePeerConnection(config) as unknown as RTCPeerConnection;
}

export interface FakeTrack extends MediaStreamTrack {
  /** The track ends by itself (the browser's "Stop sharing"). */
  end(): void;
  stopped: boolean;
}

export function fakeTrack(kind: 'audio' | 'video'): FakeTrack {
  const listeners = new Set<() => void>();
  const t = {
    kind,
    readyState: 'live',
    enabled: true,
    stopped: false,
    id: `${kind}-${Math.random()}`,
    addEventListener: (type: string, f: () => void) => void (type === 'ended' && listeners.add(f)),
    removeEventListener: (type: string, f: () => void) => void (type === 'ended' && listeners.delete(f)),
    stop() {
      t.stopped = true;
      t.readyState = 'ended';
    },
    end() {
      t.readyState = 'ended';
      for (const f of [...listeners]) f();
    },
  };
  return t as unknown as FakeTrack;
}

export interface FakeStream extends MediaStream {
  /** The browser takes a track away (a renegotiation removed it). */
  remove(t: MediaStreamTrack): void;
}

export function fakeStream(tracks: MediaStreamTrack[] = [], id = 'stream'): FakeStream {
  const list = [...tracks];
  const s = {
    id,
    onremovetrack: null as null | (() => void),
    getTracks: () => [...list],
    addTrack: (t: MediaStreamTrack) => void list.push(t),
    remove(t: MediaStreamTrack) {
      const i = list.indexOf(t);
      if (i >= 0) list.splice(i, 1);
      s.onremovetrack?.();
    },
  };
  return s as unknown as FakeStream;
}

/** meetd accepts the latest socket; resolves to it once the session has answered (with its join). */
export async function acceptSocket(): Promise<FakeSocket> {
  const ws = FakeSocket.latest();
  ws.open();
  await settle();
  return ws;
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

export function resetFakes(): void {
  FakeSocket.all = [];
  FakePeerConnection.all = [];
}
