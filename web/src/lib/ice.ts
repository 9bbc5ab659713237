// ICE candidates between the browser and the wire.

import type { IceCandidate } from './protocol';

/** An RTCIceCandidate as the wire carries it. */
export function candidateJSON(c: RTCIceCandidate): IceCandidate {
  const j = c.toJSON();
  const out: IceCandidate = { candidate: j.candidate ?? '' };
  if (j.sdpMid !== undefined) out.sdpMid = j.sdpMid;
  if (j.sdpMLineIndex !== undefined) out.sdpMLineIndex = j.sdpMLineIndex;
  if (j.usernameFragment !== undefined) out.usernameFragment = j.usernameFragment;
  return out;
}

/** Adds a remote candidate; one unusable candidate is not worth failing the connection over. */
export async function addCandidate(pc: RTCPeerConnection, c: IceCandidate): Promise<void> {
  try {
    await pc.addIceCandidate(c);
  } catch (err) {
    console.warn('meetd: could not add an ICE candidate:', err);
  }
}
