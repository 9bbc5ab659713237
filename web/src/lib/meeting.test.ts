import { describe, expect, it, vi } from 'vitest';
import {
  acceptSocket,
  FakePeerConnection,
  FakeSocket,
  fakeStream,
  fakeTrack,
  settle,
  type FakeStream,
} from './fakes.testutil';
import type { MeetingOptions } from './meeting';
import { buildTiles } from './participants';
import type { Participant } from './protocol';
import { fakeMeeting, withFakes } from './sessions.testutil';
import { viewerPhase } from './status';

const ICE = [{ urls: ['stun:stun.example.org:3478'] }];
const FP1 = 'v=0\r\na=fingerprint:sha-256 AA:BB\r\n';
const FP2 = 'v=0\r\na=fingerprint:sha-256 CC:DD\r\n';

function person(id: string, p: Partial<Participant> = {}): Participant {
  return { id, name: id.toUpperCase(), role: 'stage', host: false, audio: true, video: true, screen: '', ...p };
}

function setup(over: Partial<MeetingOptions> = {}) {
  return fakeMeeting({ room: 'standup', kind: 'meeting', role: 'stage', name: 'Ana', ...over });
}

/** Starts and walks through join → joined → publish offer → answer. */
async function join(s: ReturnType<typeof setup>, role: 'stage' | 'audience' = 'stage') {
  s.meeting.start();
  const ws = await acceptSocket();
  ws.receive({ type: 'joined', room: 'standup', kind: 'meeting', role, id: 'me', iceServers: ICE });
  ws.receive({ type: 'state', room: 'standup', live: true, viewers: 0 });
  await settle();
  const pub = role === 'stage' ? FakePeerConnection.latest() : null;
  if (pub) {
    ws.receive({ type: 'answer', sdp: 'v=0 answer-1' });
    await settle();
  }
  return { ws, pub };
}

/** meetd's offer on the subscribe connection. */
async function offer(ws: FakeSocket, sdp = FP1) {
  ws.receive({ type: 'offer', sdp });
  await settle();
  return FakePeerConnection.latest();
}

withFakes();

describe('Meeting', () => {
  it('joins on stage, says its media, and publishes camera and microphone', async () => {
    const s = setup({ media: { audio: false, video: true } });
    s.meeting.start();
    expect(s.state().status).toBe('connecting');
    const ws = await acceptSocket();
    expect(ws.sent).toEqual([{ type: 'join', room: 'standup', kind: 'meeting', role: 'stage', name: 'Ana' }]);
    ws.receive({ type: 'joined', room: 'standup', kind: 'meeting', role: 'stage', id: 'me', iceServers: ICE });
    await settle();
    expect(s.state()).toMatchObject({ status: 'joined', selfId: 'me', role: 'stage', publishing: 'connecting' });
    expect(ws.sentOf('media')).toEqual([{ type: 'media', audio: false, video: true, screen: '' }]);
    const pc = FakePeerConnection.latest();
    expect(pc.config.iceServers).toEqual(ICE);
    expect(pc.transceivers.map((t) => [(t.track as MediaStreamTrack).kind, t.init?.direction])).toEqual([
      ['audio', 'sendonly'],
      ['video', 'sendonly'],
    ]);
    expect(pc.transceivers[0]!.init?.streams).toEqual([s.camera]);
    // The camera goes out as simulcast, the microphone as one encoding.
    expect(pc.transceivers[0]!.init?.sendEncodings).toBeUndefined();
    expect(pc.transceivers[1]!.init?.sendEncodings).toEqual([
      { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { rid: 'f', maxBitrate: 1_500_000 },
    ]);
    expect(ws.sentOf('offer')).toEqual([{ type: 'offer', sdp: 'v=0 local-offer' }]);
    pc.gather({ candidate: 'mine', sdpMid: '0', sdpMLineIndex: 0 });
    expect(ws.sentOf('candidate')).toEqual([
      { type: 'candidate', target: 'publish', candidate: { candidate: 'mine', sdpMid: '0', sdpMLineIndex: 0 } },
    ]);
    ws.receive({ type: 'candidate', target: 'publish', candidate: { candidate: 'early' } });
    ws.receive({ type: 'answer', sdp: 'v=0 answer-1' });
    await settle();
    expect(pc.remoteDescription).toEqual({ type: 'answer', sdp: 'v=0 answer-1' });
    expect(pc.candidates).toEqual([{ candidate: 'early' }]);
    pc.setState('connected');
    expect(s.state().publishing).toBe('on');

    s.meeting.setMedia(true, false);
    expect(ws.sentOf('media').at(-1)).toEqual({ type: 'media', audio: true, video: false, screen: '' });
  });

  it('tells meetd how big each received video is shown, in the room only, and all again after a rejoin', async () => {
    const s = setup({ quality: 'medium' });
    // A tile may measure before the session is in the room: nothing goes out yet.
    const early = s.meeting.views.show('p2_cam');
    early.update({ width: 640, height: 360 });
    const { ws } = await join(s);
    ws.receive({ type: 'participants', participants: [person('me'), person('p2')] });
    const sub = await offer(ws);
    sub.track(fakeTrack('video'), [fakeStream([], 'p2_cam')]);
    await vi.advanceTimersByTimeAsync(300);
    expect(ws.sentOf('view')).toEqual([{ type: 'view', track: 'p2_cam', width: 640, height: 360, quality: 'medium' }]);

    // Hidden tab: 0×0; a new choice of quality goes out with the view.
    s.meeting.views.setHidden(true);
    await vi.advanceTimersByTimeAsync(300);
    s.meeting.views.setHidden(false);
    s.meeting.views.setQuality('auto');
    await vi.advanceTimersByTimeAsync(300);
    expect(ws.sentOf('view').slice(1)).toEqual([
      { type: 'view', track: 'p2_cam', width: 0, height: 0, quality: 'medium' },
      { type: 'view', track: 'p2_cam', width: 640, height: 360, quality: 'auto' },
    ]);

    // While reconnecting nothing goes out; the new session hears every view again.
    ws.drop();
    early.update({ width: 1280, height: 720 });
    await vi.advanceTimersByTimeAsync(1000);
    const again = FakeSocket.latest();
    expect(again).not.toBe(ws);
    again.open();
    await settle();
    expect(again.sentOf('view')).toEqual([]);
    again.receive({ type: 'joined', room: 'standup', kind: 'meeting', role: 'stage', id: 'me2', iceServers: [] });
    await vi.advanceTimersByTimeAsync(300);
    expect(again.sentOf('view')).toEqual([{ type: 'view', track: 'p2_cam', width: 1280, height: 720, quality: 'auto' }]);
  });

  it('ties received streams to participants and their screen share', async () => {
    const s = setup();
    const { ws } = await join(s);
    ws.receive({
      type: 'participants',
      participants: [person('me', { host: true }), person('p2', { screen: 'scr' }), person('p3'), person('v1', { role: 'audience' })],
    });
    const sub = await offer(ws);
    expect(FakePeerConnection.all).toHaveLength(2);
    const camera = fakeStream([], 'p2_cam');
    const screen = fakeStream([], 'p2_scr');
    const third = fakeStream([], 'p3_x_y');
    sub.track(fakeTrack('audio'), [camera]);
    sub.track(fakeTrack('video'), [camera]);
    sub.track(fakeTrack('video'), [screen]);
    sub.track(fakeTrack('video'), [third]);
    const remote = s.state().remote;
    expect([...remote.keys()]).toEqual(['p2', 'p3']);
    expect(remote.get('p2')!.map((r) => r.streamId)).toEqual(['cam', 'scr']);
    expect(remote.get('p3')![0]!.streamId).toBe('x_y');
    expect(camera.getTracks()).toHaveLength(2);

    const tiles = buildTiles(s.state().participants, 'me', remote, { camera: s.camera, screen: null });
    expect(tiles.cameras.map((t) => [t.participant.id, t.self, t.stream])).toEqual([
      ['me', true, s.camera],
      ['p2', false, camera],
      ['p3', false, third],
    ]);
    expect(tiles.screens.map((t) => [t.participant.id, t.stream])).toEqual([['p2', screen]]);

    // The screen share ends: the renegotiation takes its track away.
    (screen as FakeStream).remove(screen.getTracks()[0]!);
    expect(s.state().remote.get('p2')!.map((r) => r.streamId)).toEqual(['cam']);
  });

  it('answers renegotiations on the same connection, and a new connection after live:false', async () => {
    const s = setup();
    const { ws } = await join(s);
    ws.receive({ type: 'participants', participants: [person('me'), person('p2')] });
    const sub = await offer(ws, FP1);
    ws.receive({ type: 'candidate', target: 'subscribe', candidate: { candidate: 'c1' } });
    await settle();
    sub.setState('connected');
    expect(s.state().receiving).toBe('on');
    await offer(ws, FP1 + 'a=second\r\n');
    expect(FakePeerConnection.all).toHaveLength(2);
    expect(sub.remoteDescriptions.map((d) => d.sdp)).toEqual([FP1, FP1 + 'a=second\r\n']);
    expect(ws.sentOf('answer')).toEqual([
      { type: 'answer', sdp: 'v=0 local-answer' },
      { type: 'answer', sdp: 'v=0 local-answer' },
    ]);
    expect(sub.candidates).toEqual([{ candidate: 'c1' }]);

    ws.receive({ type: 'state', room: 'standup', live: false, viewers: 0 });
    await settle();
    expect(sub.closed).toBe(true);
    expect(s.state().receiving).toBe('off');
    const next = await offer(ws, FP1);
    expect(next).not.toBe(sub);
    expect(FakePeerConnection.all).toHaveLength(3);

    // An offer with another certificate is a new connection too.
    const third = await offer(ws, FP2);
    expect(third).not.toBe(next);
    expect(next.closed).toBe(true);
  });

  it('shares a screen with a new offer on the publish connection, one offer at a time', async () => {
    const s = setup();
    const { ws, pub } = await join(s);
    const screen = fakeStream([fakeTrack('video')], 'screen-1');
    const sharing = s.meeting.startScreen(screen);
    await settle();
    expect(FakePeerConnection.all).toHaveLength(1);
    // A screen share is one encoding, not simulcast.
    expect(pub!.transceivers[2]!.init).toEqual({ direction: 'sendonly', streams: [screen] });
    expect(ws.sentOf('offer')).toHaveLength(2);
    expect(ws.sentOf('media').at(-1)).toEqual({ type: 'media', audio: true, video: true, screen: '' });

    ws.receive({ type: 'answer', sdp: 'v=0 answer-2' });
    await sharing;
    expect(ws.sentOf('media').at(-1)).toEqual({ type: 'media', audio: true, video: true, screen: 'screen-1' });
    expect(s.state().media.screen).toBe('screen-1');

    const stopping = s.meeting.stopScreen();
    await settle();
    expect(pub!.removed).toEqual([pub!.transceivers[2]!.sender]);
    expect(ws.sentOf('media').at(-1)).toEqual({ type: 'media', audio: true, video: true, screen: '' });
    expect(ws.sentOf('offer')).toHaveLength(3);
    // A new share while that offer waits for its answer: its offer waits too.
    const again = s.meeting.startScreen(fakeStream([fakeTrack('video')], 'screen-2'));
    await settle();
    expect(ws.sentOf('offer')).toHaveLength(3);
    ws.receive({ type: 'answer', sdp: 'v=0 answer-3' });
    await stopping;
    await settle();
    expect(ws.sentOf('offer')).toHaveLength(4);
    ws.receive({ type: 'answer', sdp: 'v=0 answer-4' });
    await again;
    expect(pub!.remoteDescriptions.map((d) => d.sdp)).toEqual([
      'v=0 answer-1',
      'v=0 answer-2',
      'v=0 answer-3',
      'v=0 answer-4',
    ]);
    expect(screen.getTracks()[0]!.readyState).toBe('ended');
  });

  it("stops sharing when the browser's Stop sharing ends the track", async () => {
    const s = setup();
    const { ws } = await join(s);
    const track = fakeTrack('video');
    const sharing = s.meeting.startScreen(fakeStream([track], 'scr'));
    await settle();
    ws.receive({ type: 'answer', sdp: 'v=0 answer-2' });
    await sharing;
    track.end();
    await settle();
    expect(s.state().media.screen).toBe('');
    expect(ws.sentOf('media').at(-1)).toEqual({ type: 'media', audio: true, video: true, screen: '' });
    expect(ws.sentOf('offer')).toHaveLength(3);
  });

  it('announces who joins and leaves, but not those already there or yourself', async () => {
    const s = setup();
    const { ws } = await join(s);
    ws.receive({ type: 'participants', participants: [person('me'), person('p2', { name: 'Ben' })] });
    await settle();
    expect(s.events).toEqual([]);
    ws.receive({
      type: 'participants',
      participants: [person('me', { audio: false }), person('p2', { name: 'Ben' }), person('p3', { name: 'Cy' })],
    });
    ws.receive({ type: 'participants', participants: [person('me'), person('p3', { name: 'Cy', role: 'audience' })] });
    await settle();
    expect(s.events).toEqual([
      { type: 'people', change: { kind: 'joined', id: 'p3', name: 'Cy' } },
      { type: 'people', change: { kind: 'to-audience', id: 'p3', name: 'Cy' } },
      { type: 'people', change: { kind: 'left', id: 'p2', name: 'Ben' } },
    ]);
  });

  it('shows chat history without notices, and replaces it after a rejoin', async () => {
    const s = setup();
    const { ws } = await join(s);
    const msg = (id: string, text: string, history?: boolean) => ({
      type: 'chat',
      id,
      name: id.toUpperCase(),
      text,
      time: '2026-11-24T20:00:00Z',
      ...(history ? { history } : {}),
    });
    ws.receive(msg('p2', 'old one', true));
    ws.receive(msg('p2', 'old two', true));
    ws.receive(msg('p2', 'new'));
    ws.receive(msg('me', 'mine'));
    await settle();
    expect(s.state().chat.map((c) => [c.text, c.history, c.self])).toEqual([
      ['old one', true, false],
      ['old two', true, false],
      ['new', false, false],
      ['mine', false, true],
    ]);
    expect(s.events.map((e) => e.type === 'chat' && e.entry.text)).toEqual(['new']);

    expect(s.meeting.sendChat('  hello  ')).toBe(true);
    expect(s.meeting.sendChat('   ')).toBe(false);
    expect(ws.sentOf('chat')).toEqual([{ type: 'chat', text: 'hello' }]);

    ws.drop();
    expect(s.state().status).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1000);
    const again = FakeSocket.latest();
    again.open();
    await settle();
    again.receive({ type: 'joined', room: 'standup', kind: 'meeting', role: 'stage', id: 'me2', iceServers: [] });
    for (const text of ['old one', 'old two', 'new', 'mine']) again.receive(msg('p2', text, true));
    await settle();
    expect(s.state().chat.map((c) => c.text)).toEqual(['old one', 'old two', 'new', 'mine']);
  });

  it('takes an invitation to the stage, and goes back to the audience', async () => {
    const s = setup({ role: 'audience' });
    const { ws } = await join(s, 'audience');
    expect(FakePeerConnection.all).toHaveLength(0);
    expect(ws.sentOf('media')).toEqual([]);

    // The invitation waits for an answer: accepting it asks meetd for the stage.
    ws.receive({ type: 'invited', room: 'standup' });
    await settle();
    expect(s.events).toEqual([{ type: 'invited' }]);
    expect(FakePeerConnection.all).toHaveLength(0);
    s.meeting.publish();
    await settle();
    expect(ws.sentOf('role')).toEqual([{ type: 'role', id: 'me', role: 'stage' }]);
    expect(ws.sentOf('offer')).toHaveLength(0);
    ws.receive({ type: 'role', role: 'stage' });
    await settle();
    const pub = FakePeerConnection.latest();
    expect(ws.sentOf('offer')).toHaveLength(1);
    // On stage, the room hears of the camera and microphone set while watching.
    expect(ws.sentOf('media')).toHaveLength(1);

    s.meeting.setRole('p2', 'stage');
    expect(ws.sentOf('role').at(-1)).toEqual({ type: 'role', id: 'p2', role: 'stage' });

    ws.receive({ type: 'role', role: 'audience' });
    await settle();
    expect(pub.closed).toBe(true);
    expect(s.state()).toMatchObject({ role: 'audience', publishing: 'off' });
    expect(s.events.at(-1)).toEqual({ type: 'to-audience' });
  });

  it('declines an invitation', async () => {
    const s = setup({ role: 'audience' });
    const { ws } = await join(s, 'audience');
    ws.receive({ type: 'invited', room: 'standup' });
    await settle();
    expect(s.meeting.leaveStage()).toBe(true);
    expect(ws.sentOf('role')).toEqual([{ type: 'role', id: 'me', role: 'audience' }]);
    // Nothing more to decline; and publishing without an invitation asks for nothing.
    expect(s.meeting.leaveStage()).toBe(false);
    s.meeting.publish();
    await settle();
    expect(ws.sentOf('role')).toHaveLength(1);
    expect(FakePeerConnection.all).toHaveLength(0);
  });

  it('stops when meetd refuses the join, and reports other refusals as events', async () => {
    const s = setup();
    s.meeting.start();
    const ws = await acceptSocket();
    ws.receive({ type: 'error', code: 'room_full', message: 'The stage of "standup" is full (16 people).' });
    await settle();
    expect(s.state().status).toBe('error');
    expect(s.state().error).toEqual({ code: 'room_full', message: 'The stage of "standup" is full (16 people).' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);

    const t = setup();
    const joined = await join(t);
    joined.ws.receive({ type: 'error', code: 'not_host', message: 'Only the host can do this.' });
    await settle();
    expect(t.state().status).toBe('joined');
    expect(t.events).toEqual([{ type: 'error', code: 'not_host', message: 'Only the host can do this.' }]);
  });

  it('says so and rejoins when meetd cut it off as too slow', async () => {
    const s = setup();
    const { ws } = await join(s);
    const message = 'Your connection took too little of the media for too long; reconnect to watch again.';
    ws.receive({ type: 'error', code: 'too_slow', message });
    await settle();
    expect(s.events).toEqual([{ type: 'error', code: 'too_slow', message }]);
    expect(s.state().status).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all.length).toBeGreaterThan(1);
  });

  it('says when meetd cannot be reached, keeps trying, and publishes again after a rejoin', async () => {
    const s = setup();
    s.meeting.start();
    FakeSocket.latest().fail();
    await settle();
    expect(s.state()).toMatchObject({ status: 'reconnecting', unreachable: true });
    await vi.advanceTimersByTimeAsync(1000);
    const ws = await acceptSocket();
    ws.receive({ type: 'joined', room: 'standup', kind: 'meeting', role: 'stage', id: 'me', iceServers: [] });
    await settle();
    expect(s.state()).toMatchObject({ status: 'joined', unreachable: false, publishing: 'connecting' });
    expect(ws.sentOf('offer')).toHaveLength(1);

    // The publish connection fails, and ICE restarts do not mend it: rejoin,
    // showing who was there meanwhile.
    ws.receive({ type: 'answer', sdp: 'v=0 answer-1' });
    ws.receive({ type: 'participants', participants: [person('me'), person('p2')] });
    await settle();
    FakePeerConnection.latest().setState('failed');
    await vi.advanceTimersByTimeAsync(15_000);
    expect(s.state().status).toBe('reconnecting');
    expect(s.state().participants.map((p) => p.id)).toEqual(['me', 'p2']);
    expect(s.state().remote.size).toBe(0);
    s.meeting.stop();
    expect(s.state().participants).toEqual([]);
    expect(ws.sent.at(-1)).toEqual({ type: 'leave' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('lets a subscribe connection go without rejoining when nobody else is on stage', async () => {
    const s = setup();
    const { ws } = await join(s);
    ws.receive({ type: 'participants', participants: [person('me'), person('p2')] });
    const sub = await offer(ws);
    sub.setState('connected');
    ws.receive({ type: 'participants', participants: [person('me')] });
    await settle();
    expect(sub.closed).toBe(true);
    expect(s.state()).toMatchObject({ status: 'joined', receiving: 'off' });
    expect(FakeSocket.all).toHaveLength(1);
  });

  it("goes through a viewer's phases: waiting, live, ended, live again", async () => {
    const s = setup({ kind: 'broadcast', role: 'audience', name: undefined });
    const phase = () => viewerPhase(s.state(), 'meetd.test').phase;
    s.meeting.start();
    expect(phase()).toBe('connecting');
    const ws = await acceptSocket();
    expect(ws.sent).toEqual([{ type: 'join', room: 'standup', kind: 'broadcast', role: 'audience' }]);
    ws.receive({ type: 'joined', room: 'standup', kind: 'broadcast', role: 'audience', id: 'v1', iceServers: ICE });
    ws.receive({ type: 'state', room: 'standup', live: false, viewers: 1 });
    await settle();
    expect(phase()).toBe('waiting');
    expect(s.state().viewers).toBe(1);
    ws.receive({ type: 'state', room: 'standup', live: true, viewers: 1 });
    ws.receive({ type: 'participants', participants: [person('host', { host: true })] });
    await settle();
    expect(phase()).toBe('negotiating');
    const pc = await offer(ws);
    pc.setState('connected');
    expect(phase()).toBe('media');
    ws.receive({ type: 'state', room: 'standup', live: false, viewers: 1 });
    await settle();
    expect(pc.closed).toBe(true);
    expect(phase()).toBe('ended');
    ws.drop();
    expect(phase()).toBe('reconnecting');
  });

  it('says the broadcast ended to a viewer who comes after its end, as meetd tells', async () => {
    const s = setup({ kind: 'broadcast', role: 'audience', name: undefined });
    const phase = () => viewerPhase(s.state(), 'meetd.test').phase;
    s.meeting.start();
    const ws = await acceptSocket();
    ws.receive({ type: 'joined', room: 'standup', kind: 'broadcast', role: 'audience', id: 'v1', iceServers: ICE });
    ws.receive({ type: 'state', room: 'standup', live: false, viewers: 2, wasLive: true });
    await settle();
    expect(phase()).toBe('ended');
  });

  it('says a viewer cannot reach meetd as an error, and keeps trying', async () => {
    const s = setup({ kind: 'broadcast', role: 'audience' });
    s.meeting.start();
    FakeSocket.latest().fail();
    await settle();
    expect(viewerPhase(s.state(), 'meetd.test')).toEqual({
      phase: 'error',
      error: 'Cannot reach the meetd server at meetd.test.',
    });
    await vi.advanceTimersByTimeAsync(1000);
    const ws = await acceptSocket();
    expect(viewerPhase(s.state(), 'meetd.test').phase).toBe('reconnecting');
    ws.receive({ type: 'joined', room: 'standup', kind: 'broadcast', role: 'audience', id: 'v1', iceServers: [] });
    ws.receive({ type: 'state', room: 'standup', live: false, viewers: 1 });
    await settle();
    expect(viewerPhase(s.state(), 'meetd.test').phase).toBe('waiting');
  });

  it("pauses and resumes its camera's layers as meetd says, not the screen share", async () => {
    const s = setup();
    const { ws, pub } = await join(s);
    pub!.setState('connected');
    const screen = fakeStream([fakeTrack('video')], 'screen');
    const shared = s.meeting.startScreen(screen);
    await settle();
    ws.receive({ type: 'answer', sdp: 'v=0 answer-2' });
    await shared;
    const [, camera, shown] = pub!.transceivers.map((t) => t.sender);
    ws.receive({ type: 'layers', track: 'cam', active: ['q', 'h'] });
    ws.receive({ type: 'layers', track: 'screen', active: [] });
    await settle();
    expect(camera!.params.encodings.map((e) => [e.rid, e.active])).toEqual([
      ['q', true],
      ['h', true],
      ['f', false],
    ]);
    expect(shown!.setParams).toEqual([]);
    ws.receive({ type: 'layers', track: 'cam', active: ['q', 'h', 'f'] });
    await settle();
    expect(camera!.params.encodings.map((e) => e.active)).toEqual([true, true, true]);
  });

  it('restarts ICE on a publish connection that fails, then goes Live again without rejoining', async () => {
    const s = setup();
    const { ws, pub } = await join(s);
    pub!.setState('connected');
    expect(s.state().publishing).toBe('on');
    pub!.setState('failed');
    await settle();
    expect(s.state()).toMatchObject({ status: 'joined', publishing: 'reconnecting' });
    expect(pub!.offerOptions.at(-1)).toEqual({ iceRestart: true });
    expect(ws.sentOf('offer')).toHaveLength(2);
    ws.receive({ type: 'answer', sdp: 'v=0 answer-2' });
    await settle();
    expect(pub!.remoteDescription?.sdp).toBe('v=0 answer-2');
    pub!.setState('connected');
    expect(s.state().publishing).toBe('on');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(FakePeerConnection.all).toHaveLength(1);
  });

  it('restarts ICE when a publish connection stays disconnected, not when it heals by itself', async () => {
    const s = setup();
    const { ws, pub } = await join(s);
    pub!.setState('connected');
    pub!.setState('disconnected');
    expect(s.state().publishing).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1500);
    pub!.setState('connected');
    await vi.advanceTimersByTimeAsync(5000);
    expect(ws.sentOf('offer')).toHaveLength(1);
    pub!.setState('disconnected');
    await vi.advanceTimersByTimeAsync(2000);
    expect(ws.sentOf('offer')).toHaveLength(2);
    expect(pub!.offerOptions.at(-1)).toEqual({ iceRestart: true });
  });

  it('shows a viewer Reconnecting while the path is down; asks for a restart if meetd made none', async () => {
    const s = setup({ kind: 'broadcast', role: 'audience' });
    const phase = () => viewerPhase(s.state(), 'meetd.test').phase;
    const { ws } = await join(s, 'audience');
    ws.receive({ type: 'participants', participants: [person('host', { host: true })] });
    const sub = await offer(ws, `${FP1}a=ice-ufrag:one\r\n`);
    sub.setState('connected');
    expect(phase()).toBe('media');

    // meetd restarts ICE by itself: the client answers on the same connection.
    sub.setState('disconnected');
    expect(phase()).toBe('reconnecting');
    ws.receive({ type: 'offer', sdp: `${FP1}a=ice-ufrag:two\r\n` });
    await settle();
    expect(FakePeerConnection.latest()).toBe(sub);
    expect(ws.sentOf('answer')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(ws.sentOf('restart')).toHaveLength(0);
    sub.setState('connected');
    expect(phase()).toBe('media');

    // It fails and meetd has not restarted it: ask.
    sub.setState('failed');
    await settle();
    expect(ws.sentOf('restart')).toEqual([{ type: 'restart', target: 'subscribe' }]);
    expect(phase()).toBe('reconnecting');
    sub.setState('connected');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('restarts ICE on both connections when the network changes', async () => {
    let changed = () => {};
    let watching = false;
    const s = setup({
      watchNetwork: (cb) => {
        changed = cb;
        watching = true;
        return () => (watching = false);
      },
    });
    const { ws, pub } = await join(s);
    pub!.setState('connected');
    ws.receive({ type: 'participants', participants: [person('me'), person('p2')] });
    const sub = await offer(ws);
    sub.setState('connected');
    changed();
    await settle();
    expect(pub!.offerOptions.at(-1)).toEqual({ iceRestart: true });
    expect(ws.sentOf('restart')).toHaveLength(1);
    // The old path may still work: nothing says Reconnecting for a network change alone.
    expect(s.state()).toMatchObject({ publishing: 'on', receiving: 'on' });
    s.meeting.stop();
    expect(watching).toBe(false);
  });
});
