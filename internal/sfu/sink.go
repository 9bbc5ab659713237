package sfu

import (
	"github.com/pion/rtp"
)

// Sink takes a copy of a track's packets besides its subscribers: a
// recording. WriteRTP is called on the forwarding path, so it must copy
// what it keeps and return at once, never block: a sink that cannot keep
// up drops packets, it never slows the fan-out.
type Sink interface {
	// WriteRTP gets each packet of the track's best layer (the largest
	// simulcast layer the publisher sends, or the only one); pkt and its
	// payload are reused after the call.
	WriteRTP(pkt *rtp.Packet)
}

// AddSink starts giving s the track's packets and asks for a keyframe, so
// that video starts without waiting for the next one.
func (t *Track) AddSink(s Sink) {
	t.mu.Lock()
	old := t.sinkList()
	sinks := make([]Sink, len(old), len(old)+1)
	copy(sinks, old)
	sinks = append(sinks, s)
	t.sinks.Store(&sinks)
	t.mu.Unlock()
	t.RequestKeyframe()
}

// RemoveSink stops giving s packets.
func (t *Track) RemoveSink(s Sink) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.sinkList()
	sinks := make([]Sink, 0, len(old))
	for _, x := range old {
		if x != s {
			sinks = append(sinks, x)
		}
	}
	t.sinks.Store(&sinks)
}

func (t *Track) sinkList() []Sink {
	if p := t.sinks.Load(); p != nil {
		return *p
	}
	return nil
}

// toSinks gives a packet of layer l to the sinks, if l is the largest
// layer the publisher sends now (a paused layer does not count).
func (t *Track) toSinks(l *layer, pkt *rtp.Packet) {
	sinks := t.sinkList()
	if len(sinks) == 0 {
		return
	}
	if t.simulcast {
		ls := *t.layers.Load()
		for i := len(ls) - 1; i >= 0; i-- {
			if !ls[i].paused.Load() {
				if ls[i] != l {
					return
				}
				break
			}
		}
	}
	for _, s := range sinks {
		s.WriteRTP(pkt)
	}
}
