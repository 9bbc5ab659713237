package sfu

import (
	"testing"
	"time"
)

// A keyframe's window does not move a layer's bitrate: a probe sized on
// it would ask the link for far more than the layer needs.
func TestLayerBitrateIgnoresAKeyframeWindow(t *testing.T) {
	l := &layer{}
	now := int64(time.Hour)
	// 100 packets a second of 1,000 bytes (about 845 kbit/s on the
	// wire with the overhead), for four windows, with a keyframe of
	// 60 kB in the last.
	for w := range 4 {
		for i := range 100 {
			n := 1000
			if w == 3 && i == 0 {
				n += 60_000
			}
			l.noteBytes(n, now)
			now += int64(10 * time.Millisecond)
		}
	}
	l.noteBytes(1000, now)
	want := uint64((1000 + packetOverhead) * 8 * 100)
	got := l.bitrate.Load()
	if got < want*9/10 || got > want*11/10 {
		t.Fatalf("bitrate %d bit/s after a keyframe, want about %d", got, want)
	}
}
