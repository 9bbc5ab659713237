package sfu

import (
	"slices"

	"github.com/pion/webrtc/v4"
)

// A DownTrack is a flow of its subscriber's bandwidth estimate
// (bwe.Flow): the estimator reads what it sends and caps its layer.

// SendingRate is about what d sends, in bits per second.
func (d *DownTrack) SendingRate() float64 { return d.sendingRate() }

// LayerRates appends the bitrates of d's track's layers to dst, and
// tells which its subscriber's view wants; only a simulcast video is
// adaptive.
func (d *DownTrack) LayerRates(dst []uint64) (rates []uint64, wanted int, adaptive bool) {
	t := d.track
	ls := *t.layers.Load()
	for _, l := range ls {
		dst = append(dst, l.bitrate.Load())
	}
	if t.kind != webrtc.RTPCodecTypeVideo || !t.simulcast {
		return dst, len(ls) - 1, false
	}
	t.mu.Lock()
	l := t.layerFor(d.view)
	t.mu.Unlock()
	return dst, slices.Index(ls, l), true
}

// CapLayer caps the layer d forwards at index i of its track's layers
// (bwe.NoCap: no cap).
func (d *DownTrack) CapLayer(i int) { d.setMaxLayer(i) }
