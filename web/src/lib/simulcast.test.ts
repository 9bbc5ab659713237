import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakePeerConnection, fakeStream, fakeTrack } from './fakes.testutil';
import { addSendTrack, CAMERA_ENCODINGS, preferVP8, setActiveLayers } from './simulcast';

describe('preferVP8', () => {
  afterEach(() => vi.unstubAllGlobals());
  const codec = (mimeType: string) => ({ mimeType, clockRate: 90000 });

  it('puts VP8 first, as Safari would put H.264, keeping the rest in order', () => {
    vi.stubGlobal('RTCRtpReceiver', {
      getCapabilities: () => ({ codecs: [codec('video/H264'), codec('video/rtx'), codec('video/VP8'), codec('video/VP9')] }),
    });
    const set = vi.fn();
    preferVP8({ setCodecPreferences: set } as unknown as RTCRtpTransceiver);
    expect(set).toHaveBeenCalledWith([codec('video/VP8'), codec('video/H264'), codec('video/rtx'), codec('video/VP9')]);
  });

  it('leaves a browser alone that lists VP8 first, lacks it, or cannot say', () => {
    const set = vi.fn();
    const t = { setCodecPreferences: set } as unknown as RTCRtpTransceiver;
    vi.stubGlobal('RTCRtpReceiver', { getCapabilities: () => ({ codecs: [codec('video/VP8'), codec('video/H264')] }) });
    preferVP8(t);
    vi.stubGlobal('RTCRtpReceiver', { getCapabilities: () => ({ codecs: [codec('video/H264')] }) });
    preferVP8(t);
    vi.stubGlobal('RTCRtpReceiver', undefined);
    preferVP8(t);
    preferVP8({} as RTCRtpTransceiver);
    expect(set).not.toHaveBeenCalled();
  });
});

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

describe('setActiveLayers', () => {
  function camera() {
    const pc = new FakePeerConnection({});
    const cam = fakeTrack('video');
    addSendTrack(pc as unknown as RTCPeerConnection, cam, fakeStream([cam]));
    const sender = pc.transceivers[0]!.sender;
    const active = () => sender.params.encodings.map((e) => [e.rid, e.active]);
    return { sender, rtc: sender as unknown as RTCRtpSender, active };
  }

  it('pauses the layers not asked for and resumes them when they are', async () => {
    const c = camera();
    expect(await setActiveLayers(c.rtc, ['q', 'h'])).toBe(true);
    expect(c.active()).toEqual([
      ['q', true],
      ['h', true],
      ['f', false],
    ]);
    expect(await setActiveLayers(c.rtc, [])).toBe(true);
    expect(c.active().map(([, a]) => a)).toEqual([false, false, false]);
    expect(await setActiveLayers(c.rtc, ['f', 'q', 'h'])).toBe(true);
    expect(c.active().map(([, a]) => a)).toEqual([true, true, true]);
    // The other parameters go back as they came.
    expect(c.sender.params.encodings.map((e) => [e.scaleResolutionDownBy, e.maxBitrate])).toEqual([
      [4, 150_000],
      [2, 500_000],
      [undefined, 1_500_000],
    ]);
  });

  it('pauses only the layers meetd names as paused, not those it has not received yet', async () => {
    const c = camera();
    // meetd has received q and h; f, late, is in neither list.
    expect(await setActiveLayers(c.rtc, ['q'], ['h'])).toBe(true);
    expect(c.active()).toEqual([
      ['q', true],
      ['h', false],
      ['f', true],
    ]);
    expect(await setActiveLayers(c.rtc, [], ['q', 'h', 'f'])).toBe(true);
    expect(c.active().map(([, a]) => a)).toEqual([false, false, false]);
    // Asked again for a layer paused before: it resumes.
    expect(await setActiveLayers(c.rtc, ['q', 'h', 'f'], [])).toBe(true);
    expect(c.active().map(([, a]) => a)).toEqual([true, true, true]);
    expect(await setActiveLayers(c.rtc, ['q', 'h', 'f'], [])).toBe(false);
  });

  it('changes nothing when the layers are as asked', async () => {
    const c = camera();
    expect(await setActiveLayers(c.rtc, ['q', 'h', 'f'])).toBe(false);
    await setActiveLayers(c.rtc, ['q']);
    expect(await setActiveLayers(c.rtc, ['q'])).toBe(false);
    expect(c.sender.setParams).toHaveLength(1);
  });

  it('leaves a camera sent as one encoding alone', async () => {
    const pc = new FakePeerConnection({});
    const sender = pc.addTransceiver(fakeTrack('video'), { direction: 'sendonly' }).sender;
    expect(await setActiveLayers(sender as unknown as RTCRtpSender, [])).toBe(false);
    expect(sender.params.encodings).toEqual([{ active: true }]);
    expect(sender.setParams).toEqual([]);
  });
});
