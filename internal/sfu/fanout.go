package sfu

import (
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A fan-out meets each subscriber's state cold in the processor's cache:
// between two packets of a track, the kernel's work for hundreds of
// datagrams pushes it out. fanOut asks the next subscriber's egress for
// the state its write will read (the sealer and its cipher's key schedule
// and tables, several cache lines) while it writes to this one, so that
// the misses overlap the work instead of stalling it one after another.

// fanOut writes a packet of layer l to each of downs.
func fanOut(downs []*DownTrack, l *layer, h *rtp.Header, payload []byte, info *packetInfo) {
	n := len(downs)
	for i, d := range downs {
		if j := i + 1; j < n {
			downs[j].prefetch(l)
		}
		d.writeRTP(l, h, payload, info)
	}
}

// fastFor is d's fast egress if d may be sent a packet of l (bound, and
// audio or the video layer it is on or switching to), nil otherwise. The
// egress is set before the down track is bound, and a down track is in
// its track's list before either: it may be read only once bound, as
// writeRTP checks too.
func (d *DownTrack) fastFor(l *layer) fastEgress {
	if d.wire.Load() == 0 {
		return nil
	}
	if d.track.kind == webrtc.RTPCodecTypeVideo && l != d.current.Load() && l != d.target.Load() {
		return nil
	}
	return d.fast
}

// prefetch asks for what d's egress reads to send a packet of l.
func (d *DownTrack) prefetch(l *layer) {
	if f := d.fastFor(l); f != nil {
		f.Prefetch()
	}
}
