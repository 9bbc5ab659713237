package record

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/at-wat/ebml-go/mkv"
	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// codec is how one codec is depacketized and written.
type codec struct {
	// Name is as the manifest says it: VP8, VP9, H264 or opus.
	Name      string
	matroska  string // Matroska CodecID
	ext       string // .webm, or .mkv for H.264 (WebM has no H.264)
	video     bool
	clockRate uint32
	// maxLate is the jitter buffer's depth, in packets.
	maxLate         uint16
	newDepacketizer func() rtp.Depacketizer
	// keyframe reports whether a whole frame is a keyframe, and its size
	// when it tells it (0 when not).
	keyframe func(frame []byte) (ok bool, width, height int)
}

// codecFor is the codec of a MIME type (video/VP8...), nil for one meetd
// cannot record.
func codecFor(mime string) *codec {
	switch strings.ToLower(mime) {
	case "audio/opus":
		return &codec{Name: "opus", matroska: "A_OPUS", ext: ".webm", clockRate: 48000, maxLate: 50,
			newDepacketizer: func() rtp.Depacketizer { return &codecs.OpusPacket{} }}
	case "video/vp8":
		return &codec{Name: "VP8", matroska: "V_VP8", ext: ".webm", video: true, clockRate: 90000, maxLate: 512,
			newDepacketizer: func() rtp.Depacketizer { return &codecs.VP8Packet{} }, keyframe: vp8Keyframe}
	case "video/vp9":
		return &codec{Name: "VP9", matroska: "V_VP9", ext: ".webm", video: true, clockRate: 90000, maxLate: 512,
			newDepacketizer: func() rtp.Depacketizer { return &codecs.VP9Packet{} }, keyframe: vp9Keyframe}
	case "video/h264":
		return &codec{Name: "H264", matroska: "V_MPEG4/ISO/AVC", ext: ".mkv", video: true, clockRate: 90000, maxLate: 512,
			newDepacketizer: func() rtp.Depacketizer { return &codecs.H264Packet{} }, keyframe: h264Keyframe}
	}
	return nil
}

// cuesSpace is reserved at the start of each file for its cues (an index
// of keyframes for seeking), written with its duration when the file is
// closed; ebml-go thins the cues out to fit. A file cut by a crash has
// neither, and still plays from its start.
const cuesSpace = 16 << 10

// options are the muxer's options: WebM's header, or Matroska's for
// H.264, and the segment info of this file (its own: the muxer writes the
// duration into it).
func (c *codec) options() []mkvcore.BlockWriterOption {
	opts := []mkvcore.BlockWriterOption{
		mkvcore.WithSegmentInfo(&webm.Info{TimecodeScale: 1000000, MuxingApp: "meetd", WritingApp: "meetd"}),
		mkvcore.WithSeekHead(true),
		mkvcore.WithCues(cuesSpace),
	}
	if c.ext != ".webm" {
		opts = append(opts, mkvcore.WithEBMLHeader(mkv.DefaultEBMLHeader))
	}
	return opts
}

// vp8Keyframe reads a VP8 frame's header (RFC 6386, 9.1).
func vp8Keyframe(f []byte) (bool, int, int) {
	if len(f) < 10 || f[0]&1 != 0 {
		return false, 0, 0
	}
	if f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return true, 0, 0
	}
	return true, int(binary.LittleEndian.Uint16(f[6:8]) & 0x3fff), int(binary.LittleEndian.Uint16(f[8:10]) & 0x3fff)
}

// vp9Keyframe reads the start of a VP9 frame's uncompressed header: its
// frame type (the size is left to the decoder).
func vp9Keyframe(f []byte) (bool, int, int) {
	if len(f) < 1 || f[0]>>6 != 2 {
		return false, 0, 0
	}
	profile := (f[0]>>5)&1 | (f[0]>>3)&2
	bit := 3 // the next bit after frame_marker and profile
	if profile == 3 {
		bit++
	}
	if f[0]>>(7-bit)&1 == 1 { // show_existing_frame
		return false, 0, 0
	}
	bit++
	return f[0]>>(7-bit)&1 == 0, 0, 0
}

// nalUnits splits an Annex B stream (as pion's H.264 depacketizer gives)
// into NAL units.
func nalUnits(b []byte) [][]byte {
	var units [][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 {
			units = append(units, b)
			break
		}
		if i > 0 {
			u := b[:i]
			if u[len(u)-1] == 0 { // a four-byte start code
				u = u[:len(u)-1]
			}
			if len(u) > 0 {
				units = append(units, u)
			}
		}
		b = b[i+3:]
	}
	return units
}

// h264Keyframe finds an IDR picture in a frame, and the picture size in
// its SPS (0×0 without one).
func h264Keyframe(f []byte) (bool, int, int) {
	key, width, height := false, 0, 0
	for _, u := range nalUnits(f) {
		switch {
		case len(u) == 0:
		case u[0]&0x1f == 5:
			key = true
		case u[0]&0x1f == 7:
			if w, h, ok := spsSize(u); ok {
				width, height = w, h
			}
		}
	}
	return key, width, height
}

// avcc turns an Annex B frame into Matroska's length-prefixed NAL units,
// and gives the SPS and PPS it carries.
func avcc(f []byte) (out, sps, pps []byte) {
	for _, u := range nalUnits(f) {
		switch u[0] & 0x1f {
		case 7:
			sps = u
		case 8:
			pps = u
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(u)))
		out = append(out, u...)
	}
	return out, sps, pps
}

// avcConfig is the AVCDecoderConfigurationRecord (ISO 14496-15) of an
// SPS and PPS: H.264's CodecPrivate in Matroska.
func avcConfig(sps, pps []byte) []byte {
	if len(sps) < 4 || len(pps) == 0 {
		return nil
	}
	b := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return append(b, pps...)
}

// trackEntry describes the file's one track.
func (c *codec) trackEntry(width, height int, private []byte) webm.TrackEntry {
	t := webm.TrackEntry{TrackNumber: 1, TrackUID: 1, CodecID: c.matroska, CodecPrivate: private}
	if c.video {
		t.TrackType = 1
		t.Video = &webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)}
	} else {
		t.TrackType = 2
		t.Audio = &webm.Audio{SamplingFrequency: 48000, Channels: 2}
		t.CodecPrivate = opusHead()
		t.CodecDelay = 6500000 // 312 samples of pre-skip, in ns
		t.SeekPreRoll = 80000000
	}
	return t
}

// opusHead is the Opus identification header (RFC 7845), Matroska's
// CodecPrivate for Opus: two channels, 312 samples of pre-skip, 48 kHz.
func opusHead() []byte {
	b := []byte("OpusHead")
	b = append(b, 1, 2)
	b = binary.LittleEndian.AppendUint16(b, 312)
	b = binary.LittleEndian.AppendUint32(b, 48000)
	b = binary.LittleEndian.AppendUint16(b, 0)
	return append(b, 0)
}
