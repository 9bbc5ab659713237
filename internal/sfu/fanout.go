package sfu

import (
	"unsafe"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A fan-out meets each subscriber's state cold in the processor's cache:
// between two packets of a track, the kernel's work for hundreds of
// datagrams pushes it out. Followed one pointer at a time, the down
// track, its Egress, the Egress's path, the sealer and the sealer's
// cipher each stall the read loop for a miss, per packet and subscriber:
// about a tenth of meetd's time in W1 at 200 subscribers (see
// docs/performance.md). fanOut asks for that state ahead, in stages, while
// it sends to the subscribers before: each stage reads what the one
// before asked for an iteration earlier, and asks for the next object in
// the chain.

// hotDownTrack is the part of a DownTrack that forwarding a packet reads:
// everything before the rewriting buffer, which only a layer switch or a
// rewritten payload writes.
const hotDownTrack = unsafe.Offsetof(DownTrack{}.buf)

// fanOut writes a packet of layer l to each of downs.
func fanOut(downs []*DownTrack, l *layer, h *rtp.Header, payload []byte, info *packetInfo) {
	n := len(downs)
	for i, d := range downs {
		if j := i + 4; j < n {
			prefetch(unsafe.Pointer(downs[j]), hotDownTrack)
		}
		if j := i + 3; j < n {
			downs[j].prefetchEgress(l)
		}
		if j := i + 2; j < n {
			downs[j].prefetchPath(l)
		}
		if j := i + 1; j < n {
			downs[j].prefetchKeys(l)
		}
		d.writeRTP(l, h, payload, info)
	}
}

// egressFor is d's Egress if d may be sent a packet of l (bound, and
// audio or the video layer it is on or switching to), nil otherwise. The
// Egress is set before the down track is bound, and a down track is in its
// track's list before either: it may be read only once bound, as writeRTP
// checks too.
func (d *DownTrack) egressFor(l *layer) *Egress {
	if d.wire.Load() == 0 {
		return nil
	}
	if d.track.kind == webrtc.RTPCodecTypeVideo && l != d.current.Load() && l != d.target.Load() {
		return nil
	}
	return d.egress
}

// prefetchEgress asks for the first line of d's Egress: its path and mu.
func (d *DownTrack) prefetchEgress(l *layer) {
	if e := d.egressFor(l); e != nil {
		prefetch(unsafe.Pointer(e), 1)
	}
}

// pathFor is the path of d's Egress if d may be sent a packet of l.
func (d *DownTrack) pathFor(l *layer) *egressPath {
	if e := d.egressFor(l); e != nil {
		return e.path.Load()
	}
	return nil
}

// prefetchPath asks for the Egress's path.
func (d *DownTrack) prefetchPath(l *layer) {
	if p := d.pathFor(l); p != nil {
		prefetch(unsafe.Pointer(p), unsafe.Sizeof(*p))
	}
}

// prefetchKeys asks for the path's sealer and its cipher's state.
func (d *DownTrack) prefetchKeys(l *layer) {
	if p := d.pathFor(l); p != nil && p.seal != nil {
		prefetch(unsafe.Pointer(p.seal), unsafe.Sizeof(*p.seal))
		prefetch(p.cipher, p.cipherSize)
	}
}
