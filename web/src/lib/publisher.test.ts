import { describe, expect, it, vi } from 'vitest';
import { acceptSocket, FakePeerConnection, FakeSocket, fakeStream, fakeTrack, settle } from './fakes.testutil';
import { fakePublisher, withFakes } from './sessions.testutil';

const ICE = [{ urls: ['stun:stun.example.org:3478'] }];

function setup(tracks?: MediaStreamTrack[]) {
  return fakePublisher({ room: 'team' }, tracks);
}

/** Starts and walks through join → joined → offer → answer → connected. */
async function goLive(s: ReturnType<typeof setup>) {
  s.pub.start();
  const ws = await acceptSocket();
  ws.receive({ type: 'joined', room: 'team', role: 'stage', id: 'p1', iceServers: ICE });
  await settle();
  const pc = FakePeerConnection.latest();
  ws.receive({ type: 'answer', sdp: 'v=0 remote-answer' });
  await settle();
  pc.setState('connected');
  return { ws, pc };
}

withFakes();

describe('Publisher', () => {
  it('joins on stage, offers sendonly tracks and goes live', async () => {
    const s = setup();
    s.pub.start();
    expect(s.status()).toBe('connecting');
    const ws = FakeSocket.latest();
    expect(ws.url).toBe('ws://meetd.test/ws');
    ws.open();
    await settle();
    expect(ws.sent).toEqual([{ type: 'join', room: 'team', role: 'stage' }]);

    ws.receive({ type: 'joined', room: 'team', role: 'stage', id: 'p1', iceServers: ICE });
    ws.receive({ type: 'state', room: 'team', live: false, viewers: 2 });
    await settle();
    const pc = FakePeerConnection.latest();
    expect(pc.config.iceServers).toEqual(ICE);
    expect(pc.transceivers.map((t) => [(t.track as MediaStreamTrack).kind, t.init?.direction])).toEqual([
      ['audio', 'sendonly'],
      ['video', 'sendonly'],
    ]);
    expect(pc.transceivers[0]!.init?.streams).toEqual([s.stream]);
    // The camera goes out as simulcast: quarter, half and full resolution.
    expect(pc.transceivers[0]!.init?.sendEncodings).toBeUndefined();
    expect(pc.transceivers[1]!.init?.sendEncodings?.map((e) => [e.rid, e.scaleResolutionDownBy])).toEqual([
      ['q', 4],
      ['h', 2],
      ['f', undefined],
    ]);
    expect(pc.localDescription?.sdp).toBe('v=0 local-offer');
    expect(ws.sentOf('offer')).toEqual([{ type: 'offer', sdp: 'v=0 local-offer' }]);
    expect(s.pub.current.viewers).toBe(2);

    pc.gather({ candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 });
    expect(ws.sentOf('candidate')).toEqual([
      {
        type: 'candidate',
        target: 'publish',
        candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
      },
    ]);

    // A candidate before the answer waits for it; subscribe candidates are not ours.
    ws.receive({ type: 'candidate', target: 'publish', candidate: { candidate: 'early' } });
    ws.receive({ type: 'candidate', target: 'subscribe', candidate: { candidate: 'other' } });
    await settle();
    expect(pc.candidates).toEqual([]);
    ws.receive({ type: 'answer', sdp: 'v=0 remote-answer' });
    ws.receive({ type: 'candidate', candidate: { candidate: 'late' } });
    await settle();
    expect(pc.remoteDescription).toEqual({ type: 'answer', sdp: 'v=0 remote-answer' });
    expect(pc.candidates).toEqual([{ candidate: 'early' }, { candidate: 'late' }]);

    expect(s.status()).toBe('connecting');
    pc.setState('connected');
    expect(s.status()).toBe('live');
  });

  it('stops: leave, close, back to idle', async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    s.pub.stop();
    expect(ws.sent.at(-1)).toEqual({ type: 'leave' });
    expect(ws.readyState).toBe(3);
    expect(pc.closed).toBe(true);
    expect(s.pub.current).toEqual({ status: 'idle', error: null, notice: null, viewers: null, auth: null });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('reconnects with backoff when the socket drops, until stopped', async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    ws.drop();
    expect(s.status()).toBe('reconnecting');
    expect(pc.closed).toBe(true);

    // 1s, 2s, 4s, 8s, 10s, 10s: each retry fails to reach the server.
    for (const wait of [1000, 2000, 4000, 8000, 10_000, 10_000]) {
      const before = FakeSocket.all.length;
      await vi.advanceTimersByTimeAsync(wait - 1);
      expect(FakeSocket.all).toHaveLength(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeSocket.all).toHaveLength(before + 1);
      FakeSocket.latest().fail();
      await settle();
      expect(s.status()).toBe('reconnecting');
    }

    s.pub.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(7);
    expect(s.status()).toBe('idle');
  });

  it('comes back live after a reconnect and resets the backoff', async () => {
    const s = setup();
    const first = await goLive(s);
    first.ws.drop();
    await vi.advanceTimersByTimeAsync(1000);
    const ws = await acceptSocket();
    expect(ws.sent[0]).toEqual({ type: 'join', room: 'team', role: 'stage' });
    ws.receive({ type: 'joined', room: 'team', role: 'stage', id: 'p2', iceServers: [] });
    await settle();
    ws.receive({ type: 'answer', sdp: 'v=0' });
    await settle();
    FakePeerConnection.latest().setState('connected');
    expect(s.status()).toBe('live');
    ws.drop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all).toHaveLength(3);
  });

  it('restarts ICE on a publish connection that fails, says Reconnecting, then Live again without rejoining', async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    pc.setState('failed');
    await settle();
    expect(s.pub.current).toMatchObject({ status: 'reconnecting', notice: 'The media connection was interrupted.' });
    expect(pc.offerOptions.at(-1)).toEqual({ iceRestart: true });
    expect(ws.sentOf('offer')).toEqual([
      { type: 'offer', sdp: 'v=0 local-offer' },
      { type: 'offer', sdp: 'v=0 local-offer 2' },
    ]);
    ws.receive({ type: 'answer', sdp: 'v=0 answer-2' });
    await settle();
    expect(pc.remoteDescription?.sdp).toBe('v=0 answer-2');
    pc.setState('connected');
    expect(s.pub.current).toMatchObject({ status: 'live', notice: null });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(FakePeerConnection.all).toHaveLength(1);
    expect(ws.sentOf('leave')).toHaveLength(0);
  });

  it('restarts ICE when the publish connection stays disconnected, not when it heals by itself', async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    pc.setState('disconnected');
    expect(s.status()).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1500);
    pc.setState('connected');
    expect(s.status()).toBe('live');
    await vi.advanceTimersByTimeAsync(5000);
    expect(ws.sentOf('offer')).toHaveLength(1);

    pc.setState('disconnected');
    await vi.advanceTimersByTimeAsync(2000);
    expect(ws.sentOf('offer')).toHaveLength(2);
    expect(pc.offerOptions.at(-1)).toEqual({ iceRestart: true });
    ws.receive({ type: 'answer', sdp: 'v=0 answer-2' });
    await settle();
    pc.setState('connected');
    expect(s.status()).toBe('live');
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('keeps mending when meetd refuses an ICE restart, and restarts again', async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    pc.setState('failed');
    await settle();
    ws.receive({ type: 'error', code: 'bad_sdp', message: 'The offer was refused.' });
    await settle();
    expect(s.status()).toBe('reconnecting');
    pc.setState('failed');
    await settle();
    expect(ws.sentOf('offer')).toHaveLength(3);
    expect(pc.offerOptions.at(-1)).toEqual({ iceRestart: true });
  });

  it('rejoins when ICE restarts do not mend the publish connection in time', async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    pc.setState('failed');
    await vi.advanceTimersByTimeAsync(14_999);
    expect(pc.closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.pub.current).toMatchObject({ status: 'reconnecting', notice: 'The media connection was lost.' });
    expect(pc.closed).toBe(true);
    expect(ws.sent.at(-1)).toEqual({ type: 'leave' });

    await vi.advanceTimersByTimeAsync(1000);
    const next = FakeSocket.latest();
    expect(next).not.toBe(ws);
    next.open();
    await settle();
    next.receive({ type: 'joined', room: 'team', role: 'stage', id: 'p2', iceServers: [] });
    await settle();
    const pc2 = FakePeerConnection.latest();
    expect(pc2).not.toBe(pc);
    expect(next.sentOf('offer')).toEqual([{ type: 'offer', sdp: 'v=0 local-offer' }]);
    // A new connection that fails before it was ever live waits for the attempt's timer.
    pc2.setState('failed');
    expect(s.status()).toBe('reconnecting');
    next.receive({ type: 'answer', sdp: 'v=0 answer' });
    await settle();
    pc2.setState('connected');
    expect(s.pub.current).toMatchObject({ status: 'live', notice: null });
  });

  it('restarts ICE when the network changes, and stays Live meanwhile', async () => {
    let changed = () => {};
    let watching = false;
    const s = fakePublisher({
      room: 'team',
      watchNetwork: (cb) => {
        changed = cb;
        watching = true;
        return () => (watching = false);
      },
    });
    const { pub } = s;
    const { pc } = await goLive(s);
    expect(watching).toBe(true);
    changed();
    await settle();
    expect(pc.offerOptions.at(-1)).toEqual({ iceRestart: true });
    expect(pub.current.status).toBe('live');
    pub.stop();
    expect(watching).toBe(false);
  });

  it('says when the server cannot be reached', async () => {
    const s = setup();
    s.pub.start();
    FakeSocket.latest().fail();
    await settle();
    expect(s.pub.current.status).toBe('error');
    expect(s.pub.current.error).toBe('Cannot reach the meetd server at meetd.test.');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('shows server errors and stops', async () => {
    const s = setup();
    s.pub.start();
    const ws = await acceptSocket();
    ws.receive({ type: 'joined', room: 'team', role: 'stage', id: 'p1', iceServers: [] });
    await settle();
    ws.receive({ type: 'error', code: 'already_live', message: 'This broadcast is already live from another streamer.' });
    await settle();
    expect(s.pub.current.status).toBe('error');
    expect(s.pub.current.error).toBe('This broadcast is already live from another streamer.');
    expect(FakePeerConnection.latest().closed).toBe(true);
    expect(ws.sent.at(-1)).toEqual({ type: 'leave' });
  });

  it('keeps streaming when a server error arrives while live', async () => {
    const s = setup();
    const { ws } = await goLive(s);
    ws.receive({ type: 'error', code: 'wrong_state', message: 'No such connection.' });
    await settle();
    expect(s.pub.current.status).toBe('live');
    expect(s.pub.current.notice).toBe('No such connection.');
  });

  it('replaces tracks without renegotiating', async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    const next = fakeTrack('video');
    await s.pub.replaceTrack('video', next);
    expect(pc.transceivers[1]!.sender.replaced).toEqual([next]);
    expect(ws.sentOf('offer')).toHaveLength(1);
    expect(s.status()).toBe('live');
  });

  it('streams audio only when there is no camera', async () => {
    const s = setup([fakeTrack('audio')]);
    const { pc } = await goLive(s);
    expect(pc.transceivers.map((t) => (t.track as MediaStreamTrack).kind)).toEqual(['audio']);
    expect(s.status()).toBe('live');
  });

  it('adds a camera it was not sending with a new offer on the same connection', async () => {
    const s = setup([fakeTrack('audio')]);
    const { ws, pc } = await goLive(s);
    const cam = fakeTrack('video');
    const added = s.pub.replaceTrack('video', cam);
    await settle();
    expect(pc.transceivers.map((t) => (t.track as MediaStreamTrack).kind)).toEqual(['audio', 'video']);
    expect(pc.transceivers[1]!.init?.sendEncodings).toHaveLength(3);
    expect(ws.sentOf('offer')).toHaveLength(2);
    ws.receive({ type: 'answer', sdp: 'v=0 answer-2' });
    await added;
    expect(s.status()).toBe('live');
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("keeps sending a camera layer meetd has not received yet, pausing only those it names", async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    const camera = pc.transceivers[1]!.sender;
    const active = () => camera.params.encodings.map((e) => e.active);
    ws.receive({ type: 'layers', track: s.stream.id, active: ['q', 'f'], paused: ['h'] });
    await settle();
    expect(active()).toEqual([true, false, true]);
    ws.receive({ type: 'layers', track: s.stream.id, active: ['q', 'h', 'f'], paused: [] });
    await settle();
    expect(active()).toEqual([true, true, true]);
  });

  it("pauses the camera's layers nobody watches, and resumes them, as meetd says", async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    const camera = pc.transceivers[1]!.sender;
    const active = () => camera.params.encodings.map((e) => e.active);
    ws.receive({ type: 'layers', track: s.stream.id, active: ['q'] });
    await settle();
    expect(active()).toEqual([true, false, false]);
    ws.receive({ type: 'layers', track: s.stream.id, active: [] });
    await settle();
    expect(active()).toEqual([false, false, false]);
    // Another stream's layers are not the camera's.
    ws.receive({ type: 'layers', track: 'screen', active: ['q', 'h', 'f'] });
    await settle();
    expect(active()).toEqual([false, false, false]);
    ws.receive({ type: 'layers', track: s.stream.id, active: ['q', 'h', 'f'] });
    await settle();
    expect(active()).toEqual([true, true, true]);
    expect(camera.setParams).toHaveLength(3);
    // The microphone is one encoding, never touched; nothing was renegotiated.
    expect(pc.transceivers[0]!.sender.setParams).toEqual([]);
    expect(ws.sentOf('offer')).toHaveLength(1);
    expect(s.status()).toBe('live');
  });

  it('applies only the latest of layers that come quickly one after another', async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    const camera = pc.transceivers[1]!.sender;
    for (const active of [['q'], ['q', 'h'], ['h'], ['q', 'h', 'f'], ['f']]) {
      ws.receive({ type: 'layers', track: s.stream.id, active });
    }
    await settle();
    expect(camera.params.encodings.map((e) => e.active)).toEqual([false, false, true]);
  });

  it('ignores bad messages from the server', async () => {
    const s = setup();
    const { ws } = await goLive(s);
    ws.receive('not json');
    ws.receive({ type: 'state', live: 'yes' });
    await settle();
    expect(s.status()).toBe('live');
  });

  it('follows the room, invites viewers, and receives its guests', async () => {
    const s = setup();
    const { ws, pc } = await goLive(s);
    const stage = { role: 'stage', host: false, audio: true, video: true, screen: '' };
    ws.receive({
      type: 'participants',
      participants: [
        { ...stage, id: 'p1', name: 'Streamer', host: true },
        { ...stage, id: 'v1', name: 'Ben', role: 'audience', audio: false, video: false },
      ],
    });
    await settle();
    expect(s.rooms.at(-1)?.selfId).toBe('p1');
    expect(ws.sentOf('media')).toEqual([{ type: 'media', audio: true, video: true, screen: '' }]);
    s.pub.setMedia(false, true);
    expect(ws.sentOf('media').at(-1)).toEqual({ type: 'media', audio: false, video: true, screen: '' });
    expect(s.rooms.at(-1)?.participants.map((p) => p.id)).toEqual(['p1', 'v1']);

    expect(s.pub.setRole('v1', 'stage')).toBe(true);
    expect(ws.sentOf('role')).toEqual([{ type: 'role', id: 'v1', role: 'stage' }]);
    ws.receive({ type: 'participants', participants: [{ ...stage, id: 'p1', name: 'Streamer', host: true }, { ...stage, id: 'v1', name: 'Ben' }] });

    // meetd offers Ben's media on a subscribe connection; the broadcast goes on.
    ws.receive({ type: 'offer', sdp: 'v=0\r\na=fingerprint:sha-256 AA\r\n' });
    ws.receive({ type: 'candidate', target: 'subscribe', candidate: { candidate: 'sub' } });
    await settle();
    const sub = FakePeerConnection.latest();
    expect(sub).not.toBe(pc);
    expect(ws.sentOf('answer')).toEqual([{ type: 'answer', sdp: 'v=0 local-answer' }]);
    expect(sub.candidates).toEqual([{ candidate: 'sub' }]);
    expect(pc.candidates).toEqual([]);
    const guest = fakeStream([], 'v1_cam');
    sub.track(fakeTrack('video'), [guest]);
    expect(s.rooms.at(-1)?.remote.get('v1')?.[0]?.stream).toBe(guest);

    // The guests' path breaks: ask meetd to restart its ICE, keep the guests
    // meanwhile; when that does not mend it, let them go, and stay live.
    sub.setState('failed');
    expect(ws.sentOf('restart')).toEqual([{ type: 'restart', target: 'subscribe' }]);
    expect(sub.closed).toBe(false);
    expect(s.rooms.at(-1)?.remote.size).toBe(1);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(sub.closed).toBe(true);
    expect(s.status()).toBe('live');
    expect(s.rooms.at(-1)?.remote.size).toBe(0);

    s.pub.stop();
    expect(s.rooms.at(-1)).toMatchObject({ selfId: null, participants: [] });
  });
});
