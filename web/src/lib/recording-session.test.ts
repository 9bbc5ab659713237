// Recording as the sessions see it: meetd's `recording` shows in the state of
// everyone in the room (audience included) and is announced once; the host's
// record request goes out, and its refusal comes back as words, not as a
// failure of the call.

import { describe, expect, it } from 'vitest';
import { acceptSocket, FakePeerConnection, settle } from './fakes.testutil';
import { fakeMeeting, fakePublisher, withFakes } from './sessions.testutil';

const ICE = [{ urls: ['stun:stun.example.org:3478'] }];

withFakes();

describe('a meeting being recorded', () => {
  it('shows the recording to an audience member from the start, and its stop with the reason', async () => {
    const s = fakeMeeting({ room: 'class', kind: 'meeting', role: 'audience', name: 'Cy' });
    s.meeting.start();
    const ws = await acceptSocket();
    ws.receive({ type: 'joined', room: 'class', kind: 'meeting', role: 'audience', id: 'me', iceServers: ICE });
    const since = Date.now() - 60_000;
    ws.receive({ type: 'recording', on: true, id: 'r1', since, by: 'Ana' });
    await settle();
    expect(s.state().recording).toEqual({ id: 'r1', since, by: 'Ana' });
    expect(s.events.filter((e) => e.type === 'recording')).toEqual([
      { type: 'recording', event: { type: 'started', by: 'Ana', joined: true } },
    ]);
    ws.receive({ type: 'recording', on: false, id: 'r1', reason: 'disk_full', message: 'Disk full.' });
    await settle();
    expect(s.state().recording).toBeNull();
    expect(s.events.at(-1)).toEqual({
      type: 'recording',
      event: { type: 'stopped', reason: 'disk_full', message: 'Disk full.' },
    });
  });

  it('sends the host’s record request, and takes a refusal as words while the call goes on', async () => {
    const s = fakeMeeting({ room: 'class', kind: 'meeting', role: 'stage', name: 'Ana' });
    expect(s.meeting.record(true)).toBe(false); // not in the room yet
    s.meeting.start();
    const ws = await acceptSocket();
    ws.receive({ type: 'joined', room: 'class', kind: 'meeting', role: 'stage', id: 'me', iceServers: ICE });
    await settle();
    // Our offer is out, unanswered: a refusal of the recording is not a refusal of the offer.
    expect(FakePeerConnection.latest()).toBeTruthy();
    expect(s.meeting.record(true)).toBe(true);
    expect(ws.sentOf('record')).toEqual([{ type: 'record', on: true }]);
    ws.receive({ type: 'error', code: 'record_unavailable', message: 'Too little disk space to record.' });
    await settle();
    expect(s.events.at(-1)).toEqual({
      type: 'recording',
      event: { type: 'refused', code: 'record_unavailable', message: 'Too little disk space to record.' },
    });
    expect(s.state().status).toBe('joined');
    expect(s.state().publishing).not.toBe('off');

    s.meeting.record(true);
    ws.receive({ type: 'recording', on: true, id: 'r2', since: Date.now(), by: 'Ana' });
    await settle();
    expect(s.state().recording?.id).toBe('r2');
    s.meeting.record(false);
    expect(ws.sentOf('record')).toEqual([
      { type: 'record', on: true },
      { type: 'record', on: true },
      { type: 'record', on: false },
    ]);
  });
});

describe('a broadcast being recorded', () => {
  it('shows on the streamer’s room and reports the events', async () => {
    const events: unknown[] = [];
    const s = fakePublisher({ room: 'talk', onRecording: (e) => events.push(e) });
    s.pub.start();
    const ws = await acceptSocket();
    ws.receive({ type: 'joined', room: 'talk', kind: 'broadcast', role: 'stage', id: 'me', iceServers: ICE });
    await settle();
    expect(s.pub.record(true)).toBe(true);
    expect(ws.sentOf('record')).toEqual([{ type: 'record', on: true }]);
    ws.receive({ type: 'error', code: 'not_host', message: 'Only the live streamer can record.' });
    await settle();
    expect(events).toEqual([{ type: 'refused', code: 'not_host', message: 'Only the live streamer can record.' }]);
    expect(s.status()).not.toBe('error');
    const since = Date.now();
    ws.receive({ type: 'recording', on: true, id: 'r1', since, by: 'Streamer' });
    await settle();
    expect(s.rooms.at(-1)?.recording).toEqual({ id: 'r1', since, by: 'Streamer' });
    expect(events.at(-1)).toEqual({ type: 'started', by: 'Streamer', joined: false });
  });
});
