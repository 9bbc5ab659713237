// The camera goes out as simulcast: three encodings of one track (quarter,
// half and full resolution), from which meetd forwards each viewer the one
// that fits their tile (docs/protocol.md, "Simulcast"). Layers nobody
// watches are paused when meetd says so. Screen shares and microphones go
// out as one encoding.

/** What the camera is asked for, so that three layers make sense: 1280×720, 640×360, 320×180. */
export const CAMERA_SIZE: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 } };

/** The camera's layers, smallest first, with the RIDs meetd knows. */
export const CAMERA_ENCODINGS: readonly RTCRtpEncodingParameters[] = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
];

/**
 * Adds a sendonly transceiver for one track of `stream`: a camera (video)
 * as simulcast, anything else as one encoding. A browser that refuses the
 * encodings sends the camera as one encoding.
 */
export function addSendTrack(
  pc: RTCPeerConnection,
  track: MediaStreamTrack,
  stream: MediaStream,
): RTCRtpTransceiver {
  const init: RTCRtpTransceiverInit = { direction: 'sendonly', streams: [stream] };
  if (track.kind !== 'video') return pc.addTransceiver(track, init);
  let t: RTCRtpTransceiver;
  try {
    t = pc.addTransceiver(track, { ...init, sendEncodings: CAMERA_ENCODINGS.map((e) => ({ ...e })) });
  } catch {
    t = pc.addTransceiver(track, init);
  }
  preferVP8(t);
  return t;
}

/**
 * Puts VP8 first among the codecs a video transceiver offers. meetd
 * forwards the publisher's codec as it is, so it must be one every viewer
 * decodes: Firefox without its OpenH264 plugin (Debian's firefox-esr, and
 * wherever the plugin download is blocked) offers no H.264, and Safari
 * would otherwise offer H.264 first. meetd's simulcast also reads VP8's
 * picture ids and keyframe sizes. A browser without setCodecPreferences
 * keeps its own order.
 */
export function preferVP8(t: RTCRtpTransceiver): void {
  const caps = typeof RTCRtpReceiver !== 'undefined' ? RTCRtpReceiver.getCapabilities?.('video') : null;
  if (!caps || typeof t.setCodecPreferences !== 'function') return;
  const isVP8 = (c: RTCRtpCodec) => c.mimeType.toLowerCase() === 'video/vp8';
  if (!caps.codecs.some(isVP8) || isVP8(caps.codecs[0]!)) return;
  try {
    t.setCodecPreferences([...caps.codecs.filter(isVP8), ...caps.codecs.filter((c) => !isVP8(c))]);
  } catch (err) {
    console.warn('meetd: could not prefer VP8:', err instanceof Error ? err.message : String(err));
  }
}

/**
 * Sends only the layers meetd asks for (its `layers` message): an encoding
 * whose RID is in `paused` is paused, every other one is sent, including a
 * layer meetd has not received yet (it lists it in neither). Without
 * `paused` (an older meetd), the encodings not in `active` pause. An
 * encoding without a RID (a camera sent as one encoding) is left alone.
 * Resolves to whether anything changed.
 */
export async function setActiveLayers(
  sender: RTCRtpSender,
  active: readonly string[],
  paused?: readonly string[],
): Promise<boolean> {
  const params = sender.getParameters();
  let changed = false;
  for (const e of params.encodings ?? []) {
    if (!e.rid) continue;
    const want = paused ? !paused.includes(e.rid) : active.includes(e.rid);
    if ((e.active ?? true) !== want) {
      e.active = want;
      changed = true;
    }
  }
  if (changed) await sender.setParameters(params);
  return changed;
}
