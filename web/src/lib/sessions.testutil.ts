// Meetings and publishers on the fakes of fakes.testutil.ts, for the tests of
// meeting.ts and publisher.ts, and the set-up those tests share.

import { afterEach, beforeEach, vi } from 'vitest';
import { FakePeerConnection, FakeSocket, fakeStream, fakeTrack, resetFakes } from './fakes.testutil';
import { Meeting, type MeetingEvent, type MeetingOptions } from './meeting';
import { Publisher, type PublisherOptions, type PublisherRoom, type PublisherState } from './publisher';

const SERVER = {
  signalingUrl: 'ws://meetd.test/ws',
  host: 'meetd.test',
  createSocket: (url: string) => new FakeSocket(url),
  createPeerConnection: FakePeerConnection.factory,
};

/**
 * Every test of the file starts with no fakes and fake timers, and without
 * the warnings a session writes about the trouble the tests make.
 */
export function withFakes(): void {
  beforeEach(() => {
    resetFakes();
    vi.useFakeTimers();
    vi.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
}

/** A Meeting on fake sockets and peer connections whose camera is a fake stream; it keeps its events. */
export function fakeMeeting(opts: Partial<MeetingOptions> & Pick<MeetingOptions, 'room' | 'kind' | 'role'>) {
  const camera = fakeStream([fakeTrack('audio'), fakeTrack('video')], 'cam');
  const events: MeetingEvent[] = [];
  const meeting = new Meeting({
    ...SERVER,
    getStream: () => camera,
    onChange: () => {},
    onEvent: (e) => events.push(e),
    ...opts,
  });
  return { meeting, camera, events, state: () => meeting.current };
}

/** A Publisher on fake sockets and peer connections sending `tracks`; it keeps every state and room it reports. */
export function fakePublisher(
  opts: Partial<PublisherOptions> & Pick<PublisherOptions, 'room'>,
  tracks: MediaStreamTrack[] = [fakeTrack('audio'), fakeTrack('video')],
) {
  const stream = fakeStream(tracks);
  const states: PublisherState[] = [];
  const rooms: PublisherRoom[] = [];
  const pub = new Publisher({
    ...SERVER,
    getStream: () => stream,
    onChange: (s) => states.push(s),
    onRoom: (r) => rooms.push(r),
    ...opts,
  });
  return { pub, stream, tracks, states, rooms, status: () => pub.current.status };
}
