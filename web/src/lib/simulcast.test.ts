import { describe, expect, it } from 'vitest';
import { FakePeerConnection, fakeStream, fakeTrack } from './fakes.testutil';
import { addSendTrack, CAMERA_ENCODINGS } from './simulcast';

describe('addSendTrack', () => {
  it('sends a camera as three layers and a microphone as one', () => {
    const pc = new FakePeerConnection({});
    const mic = fakeTrack('audio');
    const cam = fakeTrack('video');
    const stream = fakeStream([mic, cam]);
    addSendTrack(pc as unknown as RTCPeerConnection, mic, stream);
    addSendTrack(pc as unknown as RTCPeerConnection, cam, stream);
    expect(pc.transceivers[0]!.init).toEqual({ direction: 'sendonly', streams: [stream] });
    expect(pc.transceivers[1]!.init).toEqual({
      direction: 'sendonly',
      streams: [stream],
      sendEncodings: [
        { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
        { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
        { rid: 'f', maxBitrate: 1_500_000 },
      ],
    });
    // Each connection gets its own copy: the browser may write into it.
    expect(pc.transceivers[1]!.init?.sendEncodings?.[0]).not.toBe(CAMERA_ENCODINGS[0]);
  });

  it('falls back to one encoding when the browser refuses simulcast', () => {
    const pc = new FakePeerConnection({});
    const add = pc.addTransceiver.bind(pc);
    pc.addTransceiver = (track, init) => {
      if (init?.sendEncodings) throw new TypeError('simulcast not supported');
      return add(track, init);
    };
    const cam = fakeTrack('video');
    const stream = fakeStream([cam]);
    addSendTrack(pc as unknown as RTCPeerConnection, cam, stream);
    expect(pc.transceivers.map((t) => t.init)).toEqual([{ direction: 'sendonly', streams: [stream] }]);
  });
});
