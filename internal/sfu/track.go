package sfu

import (
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/udpbatch"
)

// keyframeInterval is the least time between two keyframe requests sent to
// a publisher for one track, however many subscribers ask.
const keyframeInterval = 500 * time.Millisecond

// Track is one media track a publisher sends to meetd: a microphone, or a
// camera sent as one encoding or as several simulcast layers. Each layer's
// read loop fans its packets out to the track's down tracks, one per
// subscriber, each of which forwards one layer.
type Track struct {
	id        string
	streamID  string
	kind      webrtc.RTPCodecType
	codec     webrtc.RTPCodecParameters
	keyframe  keyframeFunc
	simulcast bool
	vp8       bool
	pc        *webrtc.PeerConnection
	log       *slog.Logger
	// counters are the server's, which the read loops add to.
	counters *Counters
	// batch groups the writes of one packet's fan-out into few system
	// calls.
	batch *udpbatch.Sockets
	// keyframeEvery is the API's Config.KeyframeInterval (ns), 0 for
	// keyframeInterval.
	keyframeEvery int64
	// ingress is the publish connection's, nil for a track of the tests.
	ingress *Ingress
	// shardMin is the fewest subscribers a shard of a fan-out is given
	// (shard.go); 0 never splits one.
	shardMin int

	// layers is a copy-on-write list of the layers, smallest first.
	layers atomic.Pointer[[]*layer]
	// first is the layer the track was made with, which Run reads; the
	// layers that join later may sort before it.
	first *layer
	// downs is a copy-on-write snapshot of the down tracks: the read loops
	// load it once per packet and take no lock.
	downs atomic.Pointer[[]*DownTrack]
	// sinks is a copy-on-write list of the sinks (recordings), nil for none.
	sinks atomic.Pointer[[]Sink]
	// mu serialises writers of layers and downs, and of the down tracks'
	// views and targets.
	mu sync.Mutex

	done chan struct{}
	// onLayers is told which layers the publisher should send; nil for
	// none (see OnLayers).
	onLayers func(active, paused []string)
	// rids are the simulcast RIDs negotiated in the publisher's offer,
	// smallest first, whether or not their layers have arrived.
	rids []string

	// redPT is the payload type of the publisher's RED packets (red.go),
	// 0 when it sends plain Opus; codec is then the Opus inside.
	redPT uint8

	// audioLevelID is the negotiated id of the audio level header
	// extension, 0 when there is none.
	audioLevelID uint8
	// level is the loudest audio level (RFC 6464, 0 loudest, 127 silence)
	// since TakeAudioLevel last read it.
	level atomic.Uint32
}

// NewTrack wraps a publisher's remote track, received on pc, a peer
// connection of a: its only encoding, or the first of its simulcast layers
// to arrive (the others join with AddLayer). streamID groups the tracks
// subscribers should play together (a camera and its microphone). The
// track adds what it forwards to a's counters. Run must be called to
// start forwarding.
func (a *API) NewTrack(pc *webrtc.PeerConnection, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver,
	streamID string, log *slog.Logger,
) *Track {
	return a.newTrack(pc, remote, receiver, remote.ID(), streamID, remote.RID(), log)
}

// newTrack is NewTrack of a track named id whose first layer is rid ("":
// not simulcast).
func (a *API) newTrack(pc *webrtc.PeerConnection, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver,
	id, streamID, rid string, log *slog.Logger,
) *Track {
	codec := remote.Codec()
	t := &Track{
		id:        remote.Kind().String() + "-" + id,
		streamID:  streamID,
		kind:      remote.Kind(),
		codec:     codec,
		keyframe:  keyframeDetector(codec.MimeType),
		simulcast: rid != "",
		vp8:       strings.EqualFold(codec.MimeType, webrtc.MimeTypeVP8),
		pc:        pc,
		counters:  &a.counters,
		batch:     a.sockets,
		log:       log.With("track", id, "kind", remote.Kind().String(), "codec", codec.MimeType),
		done:      make(chan struct{}),
		ingress:   a.ingressOf(pc),
	}
	if isRED(codec) {
		t.redPT, t.codec = uint8(codec.PayloadType), redPrimaryCodec(codec)
	}
	t.keyframeEvery = a.keyframeEvery
	t.shardMin = a.shardMin
	t.first = t.newLayer(remote, rid)
	t.layers.Store(&[]*layer{t.first})
	t.downs.Store(&[]*DownTrack{})
	t.level.Store(silence)
	if t.simulcast {
		// pion makes a remote track for every RID of the offer when it
		// applies it, before any of their packets arrive.
		for _, r := range receiver.Tracks() {
			if r.RID() != "" && !slices.Contains(t.rids, r.RID()) {
				t.rids = append(t.rids, r.RID())
			}
		}
		slices.SortStableFunc(t.rids, func(a, b string) int { return ridRank(a) - ridRank(b) })
	}
	if t.kind == webrtc.RTPCodecTypeAudio {
		t.ingress.reportViewersLoss(t.first.ssrc, t)
		for _, e := range receiver.GetParameters().HeaderExtensions {
			if e.URI == AudioLevelURI {
				t.audioLevelID = uint8(e.ID)
			}
		}
	}
	go readRTCP(receiver, t.first)
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

// Packets is how many packets the track has received from its publisher,
// all layers together.
func (t *Track) Packets() uint64 {
	var n uint64
	for _, l := range *t.layers.Load() {
		n += l.packets.Load()
	}
	return n
}

// Run forwards the first layer's packets until the publisher's track ends.
// The simulcast layers of one track share a receiver and end with it.
func (t *Track) Run() {
	defer close(t.done)
	defer t.ingress.forgetViewersLoss(t.first.ssrc, t)
	if t.simulcast && t.onLayers != nil {
		go t.watchLayers()
	}
	t.readLayer(t.first)
}

// readLayer forwards the packets of one layer that pion reads until it
// ends; those read at a shared socket, if any, have a goroutine of their
// own (readQueue), and the two take turns to forward.
func (t *Track) readLayer(l *layer) {
	stopQueue := t.startQueue(l)
	buf := make([]byte, maxPacketSize)
	var pkt rtp.Packet
	seal := new(sealBuf)
	for {
		n, _, err := l.remote.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.log.Debug("track read ended", "rid", l.rid, "err", err)
			}
			stopQueue()
			l.forwarding.Lock()
			l.stopShards()
			l.forwarding.Unlock()
			l.tally.addTo(t.counters, kindIndex(t.kind), time.Now().UnixNano())
			return
		}
		l.forwarding.Lock()
		t.forward(l, buf[:n], &pkt, seal)
		l.forwarding.Unlock()
	}
}

// forward fans one packet of layer l out to the down tracks. pkt and seal
// are scratch space the read loop keeps, so that forwarding allocates
// nothing.
func (t *Track) forward(l *layer, raw []byte, pkt *rtp.Packet, seal *sealBuf) {
	if err := pkt.Unmarshal(raw); err != nil {
		t.log.Debug("dropping unparsable RTP packet", "err", err)
		l.tally.counted.dropped[DropMalformed]++
		return
	}
	if len(pkt.Payload) == 0 {
		// Padding only (bandwidth probing): nothing for subscribers.
		return
	}
	l.packets.Add(1)
	if l.keyframeWanted.Load() {
		t.requestKeyframe(l)
	}
	if t.audioLevelID != 0 {
		t.noteAudioLevel(pkt)
	}
	info := packetInfo{now: time.Now().UnixNano(), size: len(pkt.Payload), seal: seal}
	if t.redPT != 0 && pkt.PayloadType == t.redPT {
		var ok bool
		if info.redOff, info.redInner, ok = redPrimary(pkt.Payload); !ok {
			l.tally.counted.dropped[DropMalformed]++
			return
		}
		info.red = true
	}
	l.noteBytes(info.size, info.now)
	l.noteClock(pkt.Timestamp, info.now)
	if l.cache != nil {
		l.cache.store(pkt.SequenceNumber, raw, info.now)
	}
	info.keyframe = t.keyframe != nil && t.keyframe(pkt.Payload)
	if t.vp8 {
		info.desc, info.vp8 = parseVP8Descriptor(pkt.Payload)
		if info.keyframe && t.simulcast {
			t.noteSize(l, pkt.Payload)
		}
	}
	// One header for every subscriber: each down track sets its own SSRC
	// and payload type on a copy.
	fwd := forwardHeader(&pkt.Header)
	downs := t.downs.Load()
	if t.shardMin == 0 || !t.fanOutShards(l, downs, &fwd, pkt.Payload, &info) {
		t.batch.Begin()
		fanOut(*downs, l, &fwd, pkt.Payload, &info)
		t.batch.End()
	}
	l.tally.count(t.counters, kindIndex(t.kind), &info)
	if info.red {
		// Recordings take Opus: the primary frame.
		pkt.Payload, pkt.PayloadType = pkt.Payload[info.redOff:], uint8(t.codec.PayloadType)
	}
	t.toSinks(l, pkt)
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
// a peer connection binds it; video starts at the next keyframe, of the
// largest layer until the subscriber tells the size it shows the video at.
func (t *Track) Subscribe() *DownTrack { return t.subscribe(nil) }

// subscribe is Subscribe of a down track pinned to a layer (pin non-nil,
// see SubscribeLayer) or not.
func (t *Track) subscribe(pin *layerPin) *DownTrack {
	d := &DownTrack{track: t, maxLayer: noCap, report: &reportFigures{}, buf: new([maxPacketSize]byte), pin: pin}
	d.report.rtt.Store(-1)
	t.mu.Lock()
	defer t.mu.Unlock()
	d.target.Store(t.targetFor(d))
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

// RequestKeyframe asks the publisher for a keyframe of every layer, at
// most once per keyframeInterval and layer.
func (t *Track) RequestKeyframe() {
	for _, l := range *t.layers.Load() {
		t.requestKeyframe(l)
	}
}
