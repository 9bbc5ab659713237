import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakePeerConnection, FakeSocket, fakeStream, fakeTrack, resetFakes, settle } from './fakes.testutil';
import { Subscriber } from './subscriber';

const ICE = [{ urls: ['stun:stun.example.org:3478'] }];

function setup() {
  const sub = new Subscriber({
    room: 'team',
    signalingUrl: 'ws://meetd.test/ws',
    host: 'meetd.test',
    onChange: () => {},
    createSocket: (url) => new FakeSocket(url),
    createPeerConnection: FakePeerConnection.factory,
    createMediaStream: () => fakeStream(),
  });
  return { sub, phase: () => sub.current.phase };
}

async function joined(s: ReturnType<typeof setup>, live: boolean) {
  s.sub.start();
  const ws = FakeSocket.latest();
  ws.open();
  await settle();
  ws.receive({ type: 'joined', room: 'team', role: 'audience', id: 'v1', iceServers: ICE });
  ws.receive({ type: 'state', room: 'team', live, viewers: 1 });
  await settle();
  return ws;
}

async function offer(ws: FakeSocket, sdp = 'v=0 remote-offer') {
  ws.receive({ type: 'offer', sdp });
  await settle();
  return FakePeerConnection.latest();
}

beforeEach(() => {
  resetFakes();
  vi.useFakeTimers();
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('Subscriber', () => {
  it('joins the audience and waits', async () => {
    const s = setup();
    s.sub.start();
    expect(s.phase()).toBe('connecting');
    const ws = FakeSocket.latest();
    ws.open();
    await settle();
    expect(ws.sent).toEqual([{ type: 'join', room: 'team', role: 'audience' }]);
    ws.receive({ type: 'joined', room: 'team', role: 'audience', id: 'v1', iceServers: ICE });
    ws.receive({ type: 'state', room: 'team', live: false, viewers: 4 });
    await settle();
    expect(s.phase()).toBe('waiting');
    expect(s.sub.current.viewers).toBe(4);
  });

  it('answers an offer, trickles candidates and collects tracks', async () => {
    const s = setup();
    const ws = await joined(s, true);
    expect(s.phase()).toBe('negotiating');

    // A candidate may come right behind the offer.
    ws.receive({ type: 'offer', sdp: 'v=0 remote-offer' });
    ws.receive({ type: 'candidate', target: 'subscribe', candidate: { candidate: 'c1' } });
    ws.receive({ type: 'candidate', target: 'publish', candidate: { candidate: 'not-ours' } });
    await settle();
    const pc = FakePeerConnection.latest();
    expect(pc.config.iceServers).toEqual(ICE);
    expect(pc.remoteDescription).toEqual({ type: 'offer', sdp: 'v=0 remote-offer' });
    expect(pc.candidates).toEqual([{ candidate: 'c1' }]);
    expect(ws.sentOf('answer')).toEqual([{ type: 'answer', sdp: 'v=0 local-answer' }]);

    pc.gather({ candidate: 'mine', sdpMid: '0', sdpMLineIndex: 0 });
    expect(ws.sentOf('candidate')).toEqual([
      { type: 'candidate', target: 'subscribe', candidate: { candidate: 'mine', sdpMid: '0', sdpMLineIndex: 0 } },
    ]);

    const audio = fakeTrack('audio');
    const video = fakeTrack('video');
    const sent = fakeStream();
    pc.track(audio, [sent]);
    pc.track(video); // no stream: goes into the same one
    expect(s.sub.current.stream).toBe(sent);
    expect(sent.getTracks()).toEqual([audio, video]);

    expect(s.phase()).toBe('negotiating');
    pc.setState('connected');
    expect(s.phase()).toBe('media');
  });

  it('builds a stream when tracks come without one', async () => {
    const s = setup();
    const ws = await joined(s, true);
    const pc = await offer(ws);
    const video = fakeTrack('video');
    pc.track(video);
    expect(s.sub.current.stream?.getTracks()).toEqual([video]);
  });

  it('renegotiates the open connection on a second offer', async () => {
    const s = setup();
    const ws = await joined(s, true);
    const pc = await offer(ws, 'first');
    pc.setState('connected');
    await offer(ws, 'second');
    expect(FakePeerConnection.all).toHaveLength(1);
    expect(pc.remoteDescriptions.map((d) => d.sdp)).toEqual(['first', 'second']);
    expect(ws.sentOf('answer')).toHaveLength(2);
  });

  it('closes on live:false, says the stream ended, and plays again on a new offer', async () => {
    const s = setup();
    const ws = await joined(s, true);
    const pc = await offer(ws);
    pc.track(fakeTrack('video'));
    pc.setState('connected');

    ws.receive({ type: 'state', room: 'team', live: false, viewers: 1 });
    await settle();
    expect(pc.closed).toBe(true);
    expect(s.sub.current.stream).toBeNull();
    expect(s.phase()).toBe('ended');

    ws.receive({ type: 'state', room: 'team', live: true, viewers: 1 });
    const next = await offer(ws);
    expect(next).not.toBe(pc);
    next.setState('connected');
    expect(s.phase()).toBe('media');
  });

  it('rejoins with backoff after the socket drops', async () => {
    const s = setup();
    const ws = await joined(s, true);
    const pc = await offer(ws);
    ws.drop();
    expect(s.phase()).toBe('reconnecting');
    expect(pc.closed).toBe(true);

    await vi.advanceTimersByTimeAsync(999);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    FakeSocket.latest().fail();
    await settle();
    expect(s.phase()).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(2000);
    const again = FakeSocket.latest();
    expect(FakeSocket.all).toHaveLength(3);
    again.open();
    await settle();
    expect(again.sent).toEqual([{ type: 'join', room: 'team', role: 'audience' }]);
    again.receive({ type: 'joined', room: 'team', role: 'audience', id: 'v2', iceServers: [] });
    again.receive({ type: 'state', room: 'team', live: false, viewers: 0 });
    await settle();
    expect(s.phase()).toBe('ended');
  });

  it('says when the server cannot be reached, and keeps trying', async () => {
    const s = setup();
    s.sub.start();
    FakeSocket.latest().fail();
    await settle();
    expect(s.phase()).toBe('error');
    expect(s.sub.current.error).toBe('Cannot reach the meetd server at meetd.test.');
    await vi.advanceTimersByTimeAsync(1000);
    FakeSocket.latest().open();
    await settle();
    FakeSocket.latest().receive({ type: 'joined', room: 'team', role: 'audience', id: 'v1', iceServers: [] });
    FakeSocket.latest().receive({ type: 'state', room: 'team', live: false, viewers: 1 });
    await settle();
    expect(s.phase()).toBe('waiting');
  });

  it('shows server errors', async () => {
    const s = setup();
    const ws = await joined(s, false);
    ws.receive({ type: 'error', code: 'bad_room', message: 'That broadcast name is not valid.' });
    await settle();
    expect(s.phase()).toBe('error');
    expect(s.sub.current.error).toBe('That broadcast name is not valid.');
  });

  it('stops: leave and close, no more retries', async () => {
    const s = setup();
    const ws = await joined(s, true);
    const pc = await offer(ws);
    s.sub.stop();
    expect(ws.sent.at(-1)).toEqual({ type: 'leave' });
    expect(pc.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });
});
