package sfu

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/meetd/meetd/internal/bwe"
)

// A down track pads while its subscriber's estimator probes the link
// (internal/bwe, probe.go): after the last packet of each frame of the
// video it forwards, it sends padding-only RTP packets on the same SSRC,
// numbered on from the media, so that the subscriber sees no gap. Padding
// goes out from the goroutine that sends the down track's media, at frame
// ends only (a browser's packet buffer takes padding between frames, not
// inside one), so it is never reordered with the media and the rewriter
// keeps one owner. Each sequence number padding takes moves the media's
// offset on by one; the switch points record where, so that a NACK is
// answered with the media packet it names and never for a padding one.
//
// Only a connection sending on a shared UDP socket pads: those sends
// never block or queue, where padding queued for ICE-TCP or a relay could
// fill the subscriber's queue and drop its video.

// padding is a probe's padding of one down track.
type padding struct {
	// rate is in bytes per second, until when it stops (unix
	// nanoseconds).
	rate  float64
	until int64
	// last is when padding was last sent; only the sender of the down
	// track's media touches it.
	last int64
	// sent counts the bytes of padding sent.
	sent atomic.Uint64
}

// Padding packets carry the most padding one can (its length is one
// byte); a burst after a frame sends at most maxPaddingBurst of them.
const (
	paddingSize     = 255
	maxPaddingBurst = 96
)

// paddingPayload is a padding-only packet's body: zeros, then the count.
var paddingPayload = func() (p [paddingSize]byte) {
	p[paddingSize-1] = paddingSize
	return p
}()

// Pad makes d send bps bits per second of padding on top of its video
// until until (unix nanoseconds), or stops it at once (bps 0). It
// implements bwe.Padder: only a simulcast video bound on a shared UDP
// socket pads.
func (d *DownTrack) Pad(bps float64, until int64) bool {
	if bps <= 0 {
		d.probing.Store(false)
		return true
	}
	if !d.track.simulcast || d.egress == nil || d.egress.path() != SendShared || d.wire.Load() == 0 {
		return false
	}
	p := &padding{rate: bps / 8, until: until, last: time.Now().UnixNano()}
	d.report.pad.Store(p)
	d.probing.Store(true)
	if r := d.reporter.Load(); r != nil {
		r.clock.probing.add(d, r) // probereport.go
	}
	return true
}

// Padded is how many bytes of padding d sent since Pad last started it.
func (d *DownTrack) Padded() uint64 {
	if p := d.report.pad.Load(); p != nil {
		return p.sent.Load()
	}
	return 0
}

// sendPadding sends the padding owed since the last burst, after the last
// packet of a frame of the current layer. The caller holds what writeRTP
// holds: it owns d's rewriter.
func (d *DownTrack) sendPadding(b wire, info *packetInfo) {
	p := d.report.pad.Load()
	now := info.now
	if p == nil || now >= p.until {
		d.probing.Store(false)
		return
	}
	n := min(int(p.rate*float64(now-p.last)/1e9/paddingSize), maxPaddingBurst)
	if n <= 0 {
		return
	}
	p.last = now
	r := &d.rw
	first := r.seq + 1
	sent := 0
	for ; sent < n; sent++ {
		d.hdr = rtp.Header{Version: 2, Padding: true, PayloadType: b.pt(), SequenceNumber: r.seq + 1,
			Timestamp: r.ts, SSRC: b.ssrc()}
		if id := b.absSendTime(); id != 0 {
			d.stampSendTime(id, now)
		}
		if w, err := d.put(&d.hdr, paddingPayload[:], info.seal, info.queue); err != nil || w == 0 {
			break
		}
		r.seq++
		r.off.seq++
	}
	if sent == 0 {
		return
	}
	p.sent.Add(uint64(sent * paddingSize))
	if sp := d.sent.Load(); sp != nil {
		d.sent.Store(sp.padded(first, r.off))
	}
}

// maxPadPoints bounds the switch points kept behind padding: NACKs come
// within a round trip or two, a few frames.
const maxPadPoints = 16

// padded is how the layer's packets are rewritten after padding took
// sequence numbers padFrom up to the next media packet's: with off from
// there on, as sp said before.
func (sp *switchPoint) padded(padFrom uint16, off offsets) *switchPoint {
	// The padding since sp took off.seq-sp.off.seq numbers from padFrom.
	next := &switchPoint{layer: sp.layer, off: off, from: padFrom + (off.seq - sp.off.seq), prev: sp, padFrom: padFrom,
		depth: sp.depth + 1}
	if next.depth > maxPadPoints {
		// Forget the oldest: copy the newest maxPadPoints.
		pts := make([]switchPoint, 0, maxPadPoints)
		for p := next; p != nil && len(pts) < maxPadPoints; p = p.prev {
			pts = append(pts, *p)
		}
		for i := range pts {
			pts[i].depth = len(pts) - 1 - i
			if i+1 < len(pts) {
				pts[i].prev = &pts[i+1]
			} else {
				pts[i].prev = nil
			}
		}
		next = &pts[0]
	}
	return next
}

// find is the switch point whose rewriting gave seq, nil for a packet of
// padding or one older than those kept.
func (sp *switchPoint) find(seq uint16) *switchPoint {
	for ; sp != nil; sp = sp.prev {
		if int16(seq-sp.from) >= 0 {
			return sp
		}
		if sp.prev != nil && int16(seq-sp.padFrom) >= 0 {
			return nil // padding
		}
	}
	return nil
}

// path is how e's connection sends now.
func (e *Egress) path() SendPath {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counted
}

// newProbes is the probing cfg allows, nil for none.
func newProbes(cfg Config) *bwe.Probes {
	n, rate := cfg.Probes, cfg.ProbeRate
	if n == 0 {
		n = DefaultProbes
	}
	if rate <= 0 {
		rate = DefaultProbeRate
	}
	return bwe.NewProbes(n, float64(rate))
}

// Probes bounds the probing of the subscribers' links, for their
// estimators (bwe.Estimator.SetProbes); nil when probing is off.
func (a *API) Probes() *bwe.Probes { return a.probes }

// Probes is how many probes of subscribers' links started, passed and
// failed.
func (c *Counters) Probes() bwe.ProbeCounts {
	if c == nil {
		return bwe.ProbeCounts{}
	}
	return c.probes.Counts()
}
