// Leaving the stage, declining an invitation, and switching devices during a call.

import { describe, expect, it, vi } from 'vitest';
import { acceptSocket, FakePeerConnection, FakeSocket, fakeTrack, settle } from './fakes.testutil';
import type { MeetingOptions } from './meeting';
import { fakeMeeting, withFakes } from './sessions.testutil';

function setup(over: Partial<MeetingOptions> = {}) {
  return fakeMeeting({ room: 'show', kind: 'broadcast', role: 'audience', ...over });
}

async function joined(s: ReturnType<typeof setup>, role: 'stage' | 'audience') {
  s.meeting.start();
  const ws = await acceptSocket();
  const kind = s.meeting.current.kind;
  ws.receive({ type: 'joined', room: 'show', kind, role, id: 'me', iceServers: [] });
  await settle();
  return ws;
}

withFakes();

describe('leaving the stage', () => {
  it('declines an invitation: Not now moves oneself to the audience', async () => {
    const s = setup();
    const ws = await joined(s, 'audience');
    ws.receive({ type: 'role', role: 'stage' });
    await settle();
    expect(s.events).toEqual([{ type: 'invited' }]);

    expect(s.meeting.leaveStage()).toBe(true);
    expect(ws.sentOf('role')).toEqual([{ type: 'role', id: 'me', role: 'audience' }]);
    expect(s.meeting.current.role).toBe('audience');
    expect(FakePeerConnection.all).toHaveLength(0);
    // meetd confirms; that is no "moved to the audience" by the host.
    ws.receive({ type: 'role', role: 'audience' });
    await settle();
    expect(s.events).toEqual([{ type: 'invited' }]);
  });

  it('stops publishing and tells the room when a guest leaves the stage', async () => {
    const s = setup();
    const ws = await joined(s, 'audience');
    ws.receive({ type: 'role', role: 'stage' });
    await settle();
    s.meeting.publish();
    await settle();
    const pub = FakePeerConnection.latest();
    ws.receive({ type: 'answer', sdp: 'v=0 answer' });
    await settle();
    pub.setState('connected');
    expect(s.meeting.current.publishing).toBe('on');

    s.meeting.leaveStage();
    expect(pub.closed).toBe(true);
    expect(s.meeting.current).toMatchObject({ role: 'audience', publishing: 'off' });
    expect(ws.sentOf('role')).toEqual([{ type: 'role', id: 'me', role: 'audience' }]);

    // Not wanting the stage any more: a later invitation asks again.
    ws.receive({ type: 'role', role: 'stage' });
    await settle();
    expect(s.events.at(-1)).toEqual({ type: 'invited' });
    expect(FakePeerConnection.all).toHaveLength(1);
  });

  it('does nothing in the audience', async () => {
    const s = setup();
    const ws = await joined(s, 'audience');
    expect(s.meeting.leaveStage()).toBe(false);
    expect(ws.sentOf('role')).toEqual([]);
  });
});

describe('switching devices during a call', () => {
  it('replaces the track on the publish connection without a new offer, keeping mute', async () => {
    const s = setup({ kind: 'meeting', role: 'stage' });
    const ws = await joined(s, 'stage');
    const pc = FakePeerConnection.latest();
    ws.receive({ type: 'answer', sdp: 'v=0 answer' });
    await settle();
    s.meeting.setMedia(false, true);
    const mediaSent = ws.sentOf('media').length;

    const mic = fakeTrack('audio');
    mic.enabled = false;
    await s.meeting.replaceTrack('audio', mic);
    const cam = fakeTrack('video');
    await s.meeting.replaceTrack('video', cam);
    expect(pc.transceivers[0]!.sender.replaced).toEqual([mic]);
    expect(pc.transceivers[1]!.sender.replaced).toEqual([cam]);
    expect(pc.offers).toBe(1);
    expect(ws.sentOf('offer')).toHaveLength(1);
    expect(FakePeerConnection.all).toHaveLength(1);
    expect(s.meeting.current.media).toMatchObject({ audio: false, video: true });
    expect(ws.sentOf('media')).toHaveLength(mediaSent);
  });
});

describe('a viewer across a dropped connection', () => {
  it('waits for the stream after rejoining instead of calling it ended', async () => {
    const s = setup();
    const ws = await joined(s, 'audience');
    ws.receive({ type: 'state', room: 'show', live: true, viewers: 1 });
    await settle();
    expect(s.meeting.current.wasLive).toBe(true);
    ws.drop();
    await settle();
    expect(s.meeting.current.status).toBe('reconnecting');
    vi.advanceTimersByTime(10_000);
    await settle();
    const again = FakeSocket.latest();
    expect(again).not.toBe(ws);
    again.open();
    await settle();
    again.receive({ type: 'joined', room: 'show', kind: 'broadcast', role: 'audience', id: 'me2', iceServers: [] });
    again.receive({ type: 'state', room: 'show', live: false, viewers: 1 });
    await settle();
    expect(s.meeting.current.wasLive).toBe(false);
  });
});
