package sfu

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// keyframeInterval is the least time between two keyframe requests sent to
// a publisher for one track, however many subscribers ask.
const keyframeInterval = 500 * time.Millisecond

// Track is one media track a publisher sends to meetd. Its read loop fans
// every packet out to the track's down tracks, one per subscriber.
type Track struct {
	id       string
	streamID string
	kind     webrtc.RTPCodecType
	codec    webrtc.RTPCodecParameters
	keyframe keyframeFunc
	remote   *webrtc.TrackRemote
	pc       *webrtc.PeerConnection
	log      *slog.Logger
	// cache holds recent video packets for subscribers' NACKs; nil for audio,
	// for which meetd negotiates no NACKs.
	cache *packetCache

	// downs is a copy-on-write snapshot of the down tracks: the read loop
	// loads it once per packet and takes no lock.
	downs atomic.Pointer[[]*DownTrack]
	// mu serialises writers of downs.
	mu sync.Mutex

	lastKeyframeRequest atomic.Int64 // unix nanoseconds
	// keyframeWanted is set when a request was held back by the rate
	// limit; the read loop sends it once the interval has passed.
	keyframeWanted atomic.Bool
	packets        atomic.Uint64
	done           chan struct{}

	// audioLevelID is the negotiated id of the audio level header
	// extension, 0 when there is none.
	audioLevelID uint8
	// level is the loudest audio level (RFC 6464, 0 loudest, 127 silence)
	// since TakeAudioLevel last read it.
	level atomic.Uint32
}

// NewTrack wraps a publisher's remote track. streamID groups the tracks
// subscribers should play together (a camera and its microphone). Run must
// be called to start forwarding.
func NewTrack(pc *webrtc.PeerConnection, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver,
	streamID string, log *slog.Logger,
) *Track {
	codec := remote.Codec()
	t := &Track{
		id:       remote.Kind().String() + "-" + remote.ID(),
		streamID: streamID,
		kind:     remote.Kind(),
		codec:    codec,
		keyframe: keyframeDetector(codec.MimeType),
		remote:   remote,
		pc:       pc,
		log:      log.With("track", remote.ID(), "kind", remote.Kind().String(), "codec", codec.MimeType),
		done:     make(chan struct{}),
	}
	if t.kind == webrtc.RTPCodecTypeVideo {
		t.cache = &packetCache{}
	}
	t.downs.Store(&[]*DownTrack{})
	t.level.Store(silence)
	if t.kind == webrtc.RTPCodecTypeAudio {
		for _, e := range receiver.GetParameters().HeaderExtensions {
			if e.URI == AudioLevelURI {
				t.audioLevelID = uint8(e.ID)
			}
		}
	}
	go drainRTCP(receiver)
	return t
}

// ID names the track among its publisher's tracks.
func (t *Track) ID() string { return t.id }

// StreamID is the stream the track belongs to.
func (t *Track) StreamID() string { return t.streamID }

// Kind is audio or video.
func (t *Track) Kind() webrtc.RTPCodecType { return t.kind }

// Codec is the codec the publisher sends.
func (t *Track) Codec() webrtc.RTPCodecParameters { return t.codec }

// Done is closed when the publisher stops sending the track.
func (t *Track) Done() <-chan struct{} { return t.done }

// Packets is how many packets the track has received from its publisher.
func (t *Track) Packets() uint64 { return t.packets.Load() }

// Run forwards packets until the publisher's track ends.
func (t *Track) Run() {
	defer close(t.done)
	buf := make([]byte, maxPacketSize)
	var pkt rtp.Packet
	for {
		n, _, err := t.remote.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.log.Debug("track read ended", "err", err)
			}
			return
		}
		t.forward(buf[:n], &pkt)
	}
}

// forward fans one packet out to the down tracks. pkt is scratch space the
// read loop keeps, so that forwarding allocates nothing.
func (t *Track) forward(raw []byte, pkt *rtp.Packet) {
	if err := pkt.Unmarshal(raw); err != nil {
		t.log.Debug("dropping unparsable RTP packet", "err", err)
		return
	}
	if len(pkt.Payload) == 0 {
		// Padding only (bandwidth probing): nothing for subscribers.
		return
	}
	t.packets.Add(1)
	if t.keyframeWanted.Load() {
		t.RequestKeyframe()
	}
	if t.audioLevelID != 0 {
		t.noteAudioLevel(pkt)
	}
	if t.cache != nil {
		t.cache.store(pkt.SequenceNumber, raw, time.Now().UnixNano())
	}
	key := t.keyframe != nil && t.keyframe(pkt.Payload)
	// One header for every subscriber: each down track sets its own SSRC
	// and payload type on a copy.
	fwd := forwardHeader(&pkt.Header)
	for _, d := range *t.downs.Load() {
		d.writeRTP(&fwd, pkt.Payload, key)
	}
}

// forwardHeader is h as meetd sends it on: without header extensions,
// whose ids were negotiated with the publisher, not with subscribers, and
// without padding.
func forwardHeader(h *rtp.Header) rtp.Header {
	f := *h
	f.Extension, f.Extensions, f.ExtensionProfile = false, nil, 0
	f.Padding, f.PaddingSize = false, 0
	return f
}

// silence is the audio level of no sound.
const silence = 127

func (t *Track) noteAudioLevel(pkt *rtp.Packet) {
	ext := pkt.GetExtension(t.audioLevelID)
	if len(ext) == 0 {
		return
	}
	if level := uint32(ext[0] & 0x7f); level < t.level.Load() {
		t.level.Store(level)
	}
}

// TakeAudioLevel returns the loudest audio level (RFC 6464: 0 is the
// loudest, 127 silence) since the last call.
func (t *Track) TakeAudioLevel() uint8 {
	return uint8(t.level.Swap(silence))
}

// Subscribe makes a down track for one subscriber. It forwards nothing until
// a peer connection binds it; video starts at the next keyframe.
func (t *Track) Subscribe() *DownTrack {
	d := &DownTrack{track: t}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.downs.Load()
	downs := make([]*DownTrack, len(old), len(old)+1)
	copy(downs, old)
	downs = append(downs, d)
	t.downs.Store(&downs)
	return d
}

// Unsubscribe stops forwarding to d.
func (t *Track) Unsubscribe(d *DownTrack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.downs.Load()
	downs := make([]*DownTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			downs = append(downs, x)
		}
	}
	t.downs.Store(&downs)
}

// Subscribers is how many down tracks the track has.
func (t *Track) Subscribers() int { return len(*t.downs.Load()) }

// RequestKeyframe asks the publisher for a keyframe, at most once per
// keyframeInterval; a request within the interval is sent when it ends.
func (t *Track) RequestKeyframe() {
	if t.kind != webrtc.RTPCodecTypeVideo || t.pc == nil { // no connection: a track of the tests
		return
	}
	now := time.Now().UnixNano()
	last := t.lastKeyframeRequest.Load()
	if now-last < int64(keyframeInterval) {
		t.keyframeWanted.Store(true)
		return
	}
	if !t.lastKeyframeRequest.CompareAndSwap(last, now) {
		return
	}
	t.keyframeWanted.Store(false)
	err := t.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.remote.SSRC())}})
	if err != nil && !errors.Is(err, io.ErrClosedPipe) {
		t.log.Debug("keyframe request failed", "err", err)
	}
}

// drainRTCP reads a receiver's incoming RTCP so that its interceptors see it.
func drainRTCP(r *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.Read(buf); err != nil {
			return
		}
	}
}
