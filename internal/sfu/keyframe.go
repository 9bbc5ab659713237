package sfu

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// keyframeFunc reports whether an RTP payload starts a keyframe, the point
// at which a new subscriber can start decoding.
type keyframeFunc func(payload []byte) bool

func keyframeDetector(mimeType string) keyframeFunc {
	switch {
	case strings.EqualFold(mimeType, webrtc.MimeTypeVP8):
		return isVP8Keyframe
	case strings.EqualFold(mimeType, webrtc.MimeTypeH264):
		return isH264Keyframe
	}
	return nil
}

// isVP8Keyframe parses the VP8 payload descriptor (RFC 7741 section 4.2)
// and the first byte of the VP8 payload header.
func isVP8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	// S bit set and partition index 0: the first packet of a frame.
	if p[0]&0x10 == 0 || p[0]&0x07 != 0 {
		return false
	}
	i := 1
	if p[0]&0x80 != 0 { // X: extended control bits
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id
			if len(p) < i+1 {
				return false
			}
			if p[i]&0x80 != 0 { // M: 15-bit picture id
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	// P bit of the payload header: 0 for a keyframe.
	return p[i]&0x01 == 0
}

// isH264Keyframe looks for a sequence parameter set or the start of an IDR
// slice (RFC 6184 single NAL, STAP-A and FU-A packets).
func isH264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	const sps, idr, stapA, fuA = 7, 5, 24, 28
	switch nal := p[0] & 0x1f; nal {
	case sps, idr:
		return true
	case stapA:
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if t := p[i] & 0x1f; t == sps || t == idr {
				return true
			}
			i += size
		}
	case fuA:
		if len(p) < 2 {
			return false
		}
		start := p[1]&0x80 != 0
		t := p[1] & 0x1f
		return start && (t == sps || t == idr)
	}
	return false
}
