package sfu

import (
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/bwe"
)

// Layer is one encoding of a publisher's track: the only one, or one of
// the simulcast layers (RIDs) of a camera, from the lowest resolution up.
type layer struct {
	rid    string
	rank   int // order among the track's layers: lower is smaller
	remote *webrtc.TrackRemote
	ssrc   uint32
	// cache holds recent video packets for subscribers' NACKs; nil for
	// audio, for which meetd negotiates no NACKs.
	cache *packetCache
	// forwarding is held by the read loop (pion's, or the queue's) that
	// forwards a packet: the state below is theirs, one at a time.
	forwarding sync.Mutex

	// width and height are the picture size of the last keyframe, 0 until
	// one was seen (VP8 only).
	width, height atomic.Uint32

	lastKeyframeRequest atomic.Int64 // unix nanoseconds
	// keyframeWanted is set when a request was held back by the rate
	// limit; the read loop sends it once the interval has passed.
	keyframeWanted atomic.Bool
	packets        atomic.Uint64

	// bitrate is what the layer carries, in bits per second, about once a
	// second from the read loop; 0 until measured. A paused layer keeps the
	// rate it had.
	bitrate atomic.Uint64
	// The read loop's byte count and the start of its current window.
	bytes uint64
	// counted is bytes as of the last window, for readers off the read
	// loop (Track.Bytes): stored once a second, not per packet.
	counted   atomic.Uint64
	rateAt    int64
	rateBytes uint64
	// rates are the last windows' rates, whose median bitrate is.
	rates rateWindows
	// paused is set while the publisher is told not to send the layer.
	paused atomic.Bool
	// tally is what the read loop received and forwarded.
	tally layerTally
	// shards are the goroutines a large fan-out is split over (shard.go),
	// nil until one is; the forwarding read loop's.
	shards *shardSet

	// clockMu guards the RTP timestamp of the last packet and when it
	// arrived (unix nanoseconds), which sender reports are made from.
	clockMu sync.Mutex
	clockTS uint32
	clockAt int64

	// senderClock is the publisher's last sender report of the layer,
	// nil before one (senderclock.go).
	senderClock atomic.Pointer[SenderClock]
}

// Bytes is about how many bytes the track received, packet overheads
// (packetOverhead) included, as of up to a second ago.
func (t *Track) Bytes() uint64 {
	var n uint64
	for _, l := range *t.layers.Load() {
		n += l.counted.Load()
	}
	return n
}

// packetOverhead is added to each packet's size in bitrates: the RTP
// header, the SRTP tag, and UDP over IPv4, roughly what each costs on the
// subscriber's link.
const packetOverhead = 12 + 16 + 8 + 20

// rateWindow is how often a layer's bitrate is measured.
const rateWindow = int64(time.Second)

// noteBytes counts a packet of n bytes of payload that arrived at now;
// about once a second it updates the layer's bitrate. It runs on the
// layer's read loop only.
func (l *layer) noteBytes(n int, now int64) {
	l.bytes += uint64(n + packetOverhead)
	elapsed := now - l.rateAt
	if elapsed < rateWindow {
		return
	}
	if elapsed < 3*rateWindow && l.rateAt != 0 {
		r := (l.bytes - l.rateBytes) * 8 * uint64(time.Second) / uint64(elapsed)
		l.bitrate.Store(l.rates.add(r))
	}
	// A longer gap (a pause) starts a new window without a sample.
	l.rateAt, l.rateBytes = now, l.bytes
	l.counted.Store(l.bytes)
}

// rateWindows keeps the rates of a layer's last few windows. A layer's
// bitrate is their median: a keyframe (a 720p one is tens of kilobytes)
// doubles the rate of the window it falls in, and a probe sized on such a
// window asked a link for twice what the layer needs.
type rateWindows struct {
	r [5]uint64
	n int
}

// add notes a window's rate and returns the median of those kept.
func (w *rateWindows) add(r uint64) uint64 {
	copy(w.r[1:], w.r[:len(w.r)-1])
	w.r[0] = r
	w.n = min(w.n+1, len(w.r))
	s := w.r
	slices.Sort(s[:w.n])
	return s[(w.n-1)/2]
}

// ridRank orders the RIDs browsers and SFUs commonly give simulcast
// layers; unknown ones count as the middle.
func ridRank(rid string) int {
	switch strings.ToLower(rid) {
	case "q", "l", "low", "0":
		return 0
	case "", "f", "high", "hi", "2":
		return 2
	}
	return 1
}

// Sizes assumed for a layer before its first keyframe shows its size:
// a 720p camera sent at full, half and quarter resolution.
const assumedWidth, assumedHeight = 1280, 720

// size is the layer's picture size, or an estimate from its rank and the
// size of top, the track's largest layer, while it is not known yet.
func (l *layer) size(top *layer) (int, int) {
	if w, h := l.width.Load(), l.height.Load(); w > 0 {
		return int(w), int(h)
	}
	w, h := assumedWidth, assumedHeight
	if tw, th := top.width.Load(), top.height.Load(); tw > 0 {
		w, h = int(tw), int(th)
	}
	shift := max(top.rank-l.rank, 0)
	return w >> shift, h >> shift
}

// Layers are the track's layers, from the smallest up.
func (t *Track) Layers() []string {
	ls := *t.layers.Load()
	rids := make([]string, len(ls))
	for i, l := range ls {
		rids[i] = l.rid
	}
	return rids
}

// Simulcast reports whether the publisher sends the track as simulcast.
func (t *Track) Simulcast() bool { return t.simulcast }

// AddLayer adds a simulcast layer that arrived after the track's first one
// and forwards it until the publisher stops it.
//
// A RID the track already has is not added again: pion announces a layer
// anew when a stream that repeats its RID (a publisher's retransmissions
// marked with the RID rather than the repaired RID) arrives.
func (t *Track) AddLayer(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	t.addLayer(remote, receiver, remote.RID())
}

// addLayer is AddLayer of a layer whose RID is rid.
func (t *Track) addLayer(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver, rid string) {
	l := t.newLayer(remote, rid)
	t.mu.Lock()
	if slices.ContainsFunc(*t.layers.Load(), func(o *layer) bool { return o.rid == l.rid }) {
		t.mu.Unlock()
		t.log.Warn("simulcast layer announced again; ignored", "rid", l.rid, "ssrc", l.ssrc)
		return
	}
	ls := slices.Clone(*t.layers.Load())
	ls = append(ls, l)
	slices.SortStableFunc(ls, func(a, b *layer) int { return a.rank - b.rank })
	t.layers.Store(&ls)
	t.retargetLocked()
	t.mu.Unlock()
	t.log.Info("simulcast layer received", "rid", rid, "ssrc", l.ssrc)
	go readRTCP(receiver, l)
	go t.readLayer(l)
}

func (t *Track) newLayer(remote *webrtc.TrackRemote, rid string) *layer {
	l := &layer{rid: rid, rank: ridRank(rid), remote: remote, ssrc: uint32(remote.SSRC())}
	if t.kind == webrtc.RTPCodecTypeVideo {
		l.cache = &packetCache{}
	}
	return l
}

// layerFor picks the smallest layer at least as large as a view of w×h;
// the largest when none is; none for a view of 0×0 (not visible). view
// false (the subscriber never said) picks the largest.
func (t *Track) layerFor(v view) *layer {
	ls := *t.layers.Load()
	if len(ls) == 0 {
		return nil
	}
	top := ls[len(ls)-1]
	if t.kind != webrtc.RTPCodecTypeVideo || !v.set {
		return top
	}
	if v.Width <= 0 && v.Height <= 0 {
		return nil
	}
	if v.Quality != QualityAuto {
		// A quality the viewer chose: the best layer up to it.
		maxRank := int(v.Quality - QualityLow)
		pick := ls[0]
		for _, l := range ls {
			if l.rank <= maxRank {
				pick = l
			}
		}
		return pick
	}
	for _, l := range ls {
		if w, h := l.size(top); w >= v.Width && h >= v.Height {
			return l
		}
	}
	return top
}

// noCap is a down track's maxLayer when its bandwidth allows any layer.
const noCap = bwe.NoCap

// targetFor is the layer d should forward: the one its view asks for,
// or the largest its bandwidth estimate allows when that is smaller.
// t.mu must be held.
func (t *Track) targetFor(d *DownTrack) *layer {
	if d.pin != nil {
		return t.pinnedLayer(d.pin)
	}
	l := t.layerFor(d.view)
	if l == nil || d.maxLayer == noCap {
		return l
	}
	ls := *t.layers.Load()
	if i := slices.Index(ls, l); i > d.maxLayer && d.maxLayer < len(ls) {
		return ls[d.maxLayer]
	}
	return l
}

// retargetLocked sets every down track's target layer again after the
// layers changed. t.mu must be held.
func (t *Track) retargetLocked() {
	for _, d := range *t.downs.Load() {
		d.target.Store(t.targetFor(d))
	}
}

// noteSize records a layer's picture size from a keyframe; a change
// retargets the down tracks.
func (t *Track) noteSize(l *layer, payload []byte) {
	w, h, ok := vp8KeyframeSize(payload)
	if !ok || (uint32(w) == l.width.Load() && uint32(h) == l.height.Load()) {
		return
	}
	t.mu.Lock()
	l.width.Store(uint32(w))
	l.height.Store(uint32(h))
	t.retargetLocked()
	t.mu.Unlock()
}

// requestKeyframe asks the publisher for a keyframe of layer l, at most
// once per keyframeInterval; a request within the interval is sent when it
// ends.
func (t *Track) requestKeyframe(l *layer) {
	if t.kind != webrtc.RTPCodecTypeVideo || t.pc == nil || l == nil { // no connection: a track of the tests
		return
	}
	every := t.keyframeEvery
	if every <= 0 {
		every = int64(keyframeInterval)
	}
	now := time.Now().UnixNano()
	last := l.lastKeyframeRequest.Load()
	if now-last < every {
		l.keyframeWanted.Store(true)
		return
	}
	if !l.lastKeyframeRequest.CompareAndSwap(last, now) {
		return
	}
	l.keyframeWanted.Store(false)
	err := t.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}})
	switch {
	case err == nil:
		t.counters.keyframeRequests.Add(1)
	case !errors.Is(err, io.ErrClosedPipe):
		t.log.Debug("keyframe request failed", "err", err)
	}
}
