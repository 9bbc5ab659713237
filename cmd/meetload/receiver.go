package main

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// freezeGap is the longest pause between two video packets of a track that
// is not a freeze.
const freezeGap = int64(200 * time.Millisecond)

// window gathers what every subscriber receives while a measurement runs.
type window struct {
	measuring atomic.Bool
	packets   atomic.Uint64
	lost      atomic.Uint64
	// late counts packets counted in lost that arrived after all, behind
	// later ones: out of order or resent after a NACK.
	late    atomic.Uint64
	freezes atomic.Uint64
	// joinFreezes counts the freezes of subscribers not yet watching
	// (settle): a newcomer's first frames, not a disturbance of those
	// already watching. freezes does not count them.
	joinFreezes atomic.Uint64
	// sourcePauses counts the gaps over freezeGap that the publisher made:
	// it sent the packets on either side that far apart itself (a
	// publisher of this tool, sharing a core with the subscribers' pion
	// stacks, can be kept from running). freezes does not count them.
	sourcePauses atomic.Uint64
	// settle is how long after its first video packet a subscriber counts
	// as watching: from then on its freezes and latency count. 0: from its
	// first video packet.
	settle int64
	// latency is from the send stamp to the packet's arrival at the
	// subscriber's socket, readLatency to the subscriber's read of it
	// (arrival.go); unstamped counts packets whose arrival was not found.
	latency     histogram
	readLatency histogram
	unstamped   atomic.Uint64
	arrivals    *arrivals
	// sizes counts the packets counted in packets by their RTP size
	// (header and payload, before SRTP), for the floor; the last counts
	// all larger.
	sizes [maxRTPSize + 1]atomic.Uint64
}

// maxRTPSize is the largest RTP packet size sizes tells apart.
const maxRTPSize = 1500

// mix is the sizes of the packets the subscribers received in the window
// and their shares, smallest first; nil before any.
func (w *window) mix() []sizeShare {
	var mix []sizeShare
	var total float64
	for size := range w.sizes {
		if n := w.sizes[size].Load(); n > 0 {
			mix = append(mix, sizeShare{size, float64(n)})
			total += float64(n)
		}
	}
	for i := range mix {
		mix[i].share /= total
	}
	return mix
}

// meanSize is the mean size of mix's packets.
func meanSize(mix []sizeShare) float64 {
	var m float64
	for _, s := range mix {
		m += float64(s.size) * s.share
	}
	return m
}

// histogram counts latencies in 10 µs buckets up to 200 ms.
type histogram struct {
	buckets [20001]atomic.Uint64
}

const histStep = int64(10 * time.Microsecond)

func (h *histogram) add(d int64) {
	i := max(d, 0) / histStep
	if i >= int64(len(h.buckets)) {
		i = int64(len(h.buckets)) - 1
	}
	h.buckets[i].Add(1)
}

// quantile is the latency, in milliseconds, under which a share q of the
// samples fall (the upper edge of its bucket); NaN without samples.
func (h *histogram) quantile(q float64) float64 {
	var total uint64
	for i := range h.buckets {
		total += h.buckets[i].Load()
	}
	if total == 0 {
		return math.NaN()
	}
	want := uint64(math.Ceil(q * float64(total)))
	var n uint64
	for i := range h.buckets {
		if n += h.buckets[i].Load(); n >= want {
			return float64(int64(i+1)*histStep) / 1e6
		}
	}
	return math.Inf(1)
}

// receiver is one subscriber's side of the measurement.
type receiver struct {
	w      *window
	dialed int64 // nowNanos when the subscriber connected
	// firstVideo is when the first video packet arrived, 0 before.
	firstVideo atomic.Int64
	// watchingFrom is when r counts as watching: settle after its first
	// video packet arrived (at the socket, if noted there); MaxInt64
	// before.
	watchingFrom atomic.Int64
	// videoTracks counts the video tracks on which packets arrived.
	videoTracks atomic.Int32
	closed      atomic.Bool

	// mu protects tracks.
	mu     sync.Mutex
	tracks []*trackState
}

// trackState is what the reader of one track keeps.
type trackState struct {
	video       bool
	lastArrival atomic.Int64
	// lastSent is the send stamp of the last video packet, 0 if it had
	// none; the track's reader's own.
	lastSent int64
	// seq is the track reader's own.
	seq seqTracker
	// layer is the marker of the simulcast layer of the last video packet
	// (W4), 0 when it carries none.
	layer atomic.Uint32
}

func newReceiver(w *window) *receiver {
	r := &receiver{w: w, dialed: nowNanos()}
	r.watchingFrom.Store(math.MaxInt64)
	return r
}

// setup is the time from connecting to the first video packet, 0 before it.
func (r *receiver) setup() time.Duration {
	if f := r.firstVideo.Load(); f != 0 {
		return time.Duration(f - r.dialed)
	}
	return 0
}

// read is the testclient's OnTrack: it reads a track until it ends,
// counting what arrives.
func (r *receiver) read(t *webrtc.TrackRemote) {
	ts := r.track(t.Kind() == webrtc.RTPCodecTypeVideo)
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		now := nowNanos()
		hn, err := h.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		r.packet(ts, &h, buf[hn:n], now)
	}
}

// track adds the state of a new track of r.
func (r *receiver) track(video bool) *trackState {
	ts := &trackState{video: video}
	r.mu.Lock()
	r.tracks = append(r.tracks, ts)
	r.mu.Unlock()
	return ts
}

// watching reports whether r counts as a viewer already watching at t:
// its video started at least settle before, and it has not left.
func (r *receiver) watching(t int64) bool {
	return t >= r.watchingFrom.Load() && !r.closed.Load()
}

// packet counts a packet of track ts, with header h and payload p, that
// the subscriber read at now: sequence gaps, latency and freezes.
// Freezes and latency count only while the subscriber is watching, and
// are timed by the packet's arrival at the socket when it was noted:
// the tool's own pion stacks, which share a core, delay reads by tens of
// milliseconds, which is not meetd's doing.
func (r *receiver) packet(ts *trackState, h *rtp.Header, p []byte, now int64) {
	measuring := r.w.measuring.Load()
	at, noted := r.w.arrivals.get(h.SSRC, h.SequenceNumber)
	t := now
	if noted {
		t = at
	}
	sent, stamped := readStamp(p)
	first := !ts.seq.started
	lost, arrival := ts.seq.next(h.SequenceNumber, measuring)
	switch arrival {
	case seqStale:
		return
	case seqLate:
		// Counted lost, it came after all. Only its loss is undone: a
		// packet behind others, mostly a retransmission, is not counted
		// as forwarded (meetd's counters do not either), and has no
		// say in freezes or latency, which are about the stream moving on.
		r.w.lost.Add(^uint64(0))
		r.w.late.Add(1)
		return
	}
	if lost > 0 {
		r.w.lost.Add(uint64(lost))
	}
	if ts.video {
		if first {
			r.firstVideo.CompareAndSwap(0, now)
			r.watchingFrom.CompareAndSwap(math.MaxInt64, t+r.w.settle)
			r.videoTracks.Add(1)
		} else if last := ts.lastArrival.Load(); measuring && t-last > freezeGap {
			switch {
			case r.closed.Load():
			case stamped && ts.lastSent != 0 && sent-ts.lastSent > freezeGap:
				r.w.sourcePauses.Add(1)
			case r.watching(last):
				r.w.freezes.Add(1)
			default:
				r.w.joinFreezes.Add(1)
			}
		}
		ts.lastArrival.Store(t)
		if stamped {
			ts.lastSent = sent
		}
		if len(p) > layerMarkerAt {
			ts.layer.Store(uint32(p[layerMarkerAt]))
		}
	}
	if measuring {
		r.w.packets.Add(1)
		r.w.sizes[min(h.MarshalSize()+len(p), maxRTPSize)].Add(1)
		if stamped && r.watching(t) {
			r.w.readLatency.add(now - sent)
			if noted {
				r.w.latency.add(at - sent)
			} else {
				r.w.unstamped.Add(1)
			}
		}
	}
}

// seqTracker follows the sequence numbers of one track's packets in the
// order they arrive.
type seqTracker struct {
	started bool
	last    uint16 // the highest so far, in 16-bit serial order
	// missing has a bit for each of the seqWindow sequence numbers up to
	// last, at its number modulo seqWindow: set if it was counted lost
	// and has not arrived since.
	missing [seqWindow / 64]uint64
}

// seqWindow is how far behind the highest sequence number a packet may
// arrive and still not be lost: about a second of W1's video, well beyond
// a retransmission's round trip on loopback. It divides 65536, so that
// the bits of missing follow the sequence numbers across their wrap.
const seqWindow = 1024

// seqArrival is what a packet's sequence number says of it.
type seqArrival int

const (
	seqNext  seqArrival = iota // ahead of every packet before it
	seqLate                    // behind, in a gap counted lost
	seqStale                   // a duplicate, or behind without a gap counted
)

// next takes the sequence number of the packet that arrived after the
// others. Ahead of the others, lost is how many the gap before it
// skipped; count says whether gaps count (while the window runs), both
// for lost and for later packets to fill as late. Sequence numbers wrap:
// 0 follows 65535.
func (s *seqTracker) next(seq uint16, count bool) (lost int, _ seqArrival) {
	if !s.started {
		s.started, s.last = true, seq
		return 0, seqNext
	}
	d := seq - s.last
	switch {
	case d == 0:
		return 0, seqStale
	case d >= 0x8000: // behind
		if count && s.last-seq < seqWindow && s.take(seq) {
			return 0, seqLate
		}
		return 0, seqStale
	}
	// Of the numbers skipped, only the last seqWindow-1 keep their bits.
	for i := max(1, int(d)-seqWindow+1); i <= int(d); i++ {
		s.mark(s.last+uint16(i), count && i < int(d))
	}
	s.last = seq
	if !count {
		return 0, seqNext
	}
	return int(d) - 1, seqNext
}

func (s *seqTracker) mark(seq uint16, missing bool) {
	i, bit := seq%seqWindow/64, uint64(1)<<(seq%64)
	if missing {
		s.missing[i] |= bit
	} else {
		s.missing[i] &^= bit
	}
}

// take clears the bit of seq and says whether it was set.
func (s *seqTracker) take(seq uint16) bool {
	i, bit := seq%seqWindow/64, uint64(1)<<(seq%64)
	set := s.missing[i]&bit != 0
	s.missing[i] &^= bit
	return set
}

// layer is the marker of the simulcast layer r's video arrives in, 0
// before video or without simulcast.
func (r *receiver) layer() byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tracks {
		if t.video {
			return byte(t.layer.Load())
		}
	}
	return 0
}

// stalled counts the video tracks of r on which nothing arrived for longer
// than freezeGap at now, since a packet that came while r was watching:
// freezes still going on when a window ends.
func (r *receiver) stalled(now int64) int {
	if r.closed.Load() {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range r.tracks {
		if last := t.lastArrival.Load(); t.video && last != 0 && now-last > freezeGap && r.watching(last) {
			n++
		}
	}
	return n
}
