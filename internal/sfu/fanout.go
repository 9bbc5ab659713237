package sfu

import (
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/egress"
)

// fanOut writes a packet of layer l to each of downs. A fan-out meets
// each subscriber's state cold in the processor's cache; it asks for it
// ahead while it sends to the subscribers before (internal/egress,
// prefetch.go): the down track four subscribers ahead, then its egress's
// stages, one subscriber nearer each.
func fanOut(downs []*DownTrack, l *layer, h *rtp.Header, payload []byte, info *packetInfo) {
	n := len(downs)
	for i, d := range downs {
		if j := i + 4; j < n {
			egress.Prefetch(downs[j])
		}
		if j := i + 3; j < n {
			downs[j].prefetch(l, egress.PrefetchConn)
		}
		if j := i + 2; j < n {
			downs[j].prefetch(l, egress.PrefetchPath)
		}
		if j := i + 1; j < n {
			downs[j].prefetch(l, egress.PrefetchKeys)
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

// prefetch asks for stage i of what d's egress reads to send a packet of
// l.
func (d *DownTrack) prefetch(l *layer, stage int) {
	if f := d.fastFor(l); f != nil {
		f.Prefetch(stage)
	}
}
