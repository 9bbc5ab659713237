package sfu

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"
)

// RED (RFC 2198) for audio: a browser that offers audio/red and finds it
// first in meetd's answer sends each Opus frame with the one before it
// in the same packet, so that a viewer who loses a packet has its frame
// in the next. meetd forwards RED as it comes to subscribers that
// negotiated it, and the primary (newest) frame alone, as plain Opus, to
// those that did not, and to recordings. Outside this file a RED track
// looks like an Opus track: Track.Codec is Opus.

// MimeTypeRED is RED's MIME type.
const MimeTypeRED = "audio/red"

// redCodec is how meetd offers RED: redundant Opus frames (Opus's
// payload type, 111, in codecs).
var redCodec = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"},
	PayloadType:        63,
}

// RED reports whether the publisher sends the track as RED (its Codec is
// then the Opus inside).
func (t *Track) RED() bool { return t.redPT != 0 }

func isRED(c webrtc.RTPCodecParameters) bool { return strings.EqualFold(c.MimeType, MimeTypeRED) }

// PreferRED puts RED first among the audio codecs of pc's answer, where the
// remote offer has it: a browser sends RED only when it comes first.
// Call it after the remote offer is set, before the answer is made.
func PreferRED(pc *webrtc.PeerConnection) {
	for _, tr := range pc.GetTransceivers() {
		if tr.Kind() != webrtc.RTPCodecTypeAudio || tr.Receiver() == nil {
			continue
		}
		codecs := tr.Receiver().GetParameters().Codecs
		i := slices.IndexFunc(codecs, isRED)
		if i <= 0 {
			continue
		}
		red := codecs[i]
		pref := append([]webrtc.RTPCodecParameters{red}, slices.Delete(slices.Clone(codecs), i, i+1)...)
		_ = tr.SetCodecPreferences(pref)
	}
}

// redPrimaryCodec is the Opus codec a RED codec carries: its fmtp line
// names the payload type of its blocks ("111/111").
func redPrimaryCodec(red webrtc.RTPCodecParameters) webrtc.RTPCodecParameters {
	c := codecs[0].params // Opus
	first, _, _ := strings.Cut(red.SDPFmtpLine, "/")
	if pt, err := strconv.ParseUint(strings.TrimSpace(first), 10, 7); err == nil {
		c.PayloadType = webrtc.PayloadType(pt)
	}
	return c
}

// redPrimary parses the block headers of RED payload p: where its
// primary block starts, and the payload type every block has (0 when
// they differ); false when p is not well formed.
func redPrimary(p []byte) (off int, pt uint8, ok bool) {
	hdr, data := 0, 0
	pt = 0xff
	for {
		if hdr >= len(p) {
			return 0, 0, false
		}
		b := p[hdr]
		switch {
		case pt == 0xff:
			pt = b & 0x7f
		case pt != b&0x7f:
			pt = 0
		}
		if b&0x80 == 0 { // the last header: the primary block's
			off = hdr + 1 + data
			if off > len(p) {
				return 0, 0, false
			}
			return off, pt, true
		}
		if hdr+4 > len(p) {
			return 0, 0, false
		}
		data += int(binary.BigEndian.Uint16(p[hdr+2:]) & 0x3ff)
		hdr += 4
	}
}
