package record

import (
	"runtime"
	"testing"

	"github.com/pion/rtp"
)

// TestFrameJitter: Opus packets (a frame each) reordered, repeated, one
// lost, then a jump past the ring and one far past it: the frames come
// out in order, each once, the one after a loss saying so, and the flush
// gives the last.
func TestFrameJitter(t *testing.T) {
	j := newFrameJitter(50, codecFor("audio/opus").newDepacketizer)
	push := func(seq uint16) {
		j.Push(copyPacket(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: uint32(seq) * 960},
			Payload: []byte{0xfc, byte(seq)}}))
	}
	for _, seq := range []uint16{65530, 65531, 65533, 65532, 65533, 65534, 0, 1, 3, 4, 200, 20000, 20001} {
		push(seq)
	}
	j.Flush()
	type out struct {
		seq     uint16
		dropped uint16
	}
	var got []out
	for s := j.Pop(); s != nil; s = j.Pop() {
		got = append(got, out{uint16(s.PacketTimestamp / 960), s.PrevDroppedPackets})
	}
	want := []out{{65530, 0}, {65531, 0}, {65532, 0}, {65533, 0}, {65534, 0}, {0, 1}, {1, 0}, {3, 1}, {4, 0}, {200, 195}, {20000, 1}, {20001, 0}}
	if len(got) != len(want) {
		t.Fatalf("frames %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frames %v, want %v", got, want)
		}
	}
}

// TestFrameBuilderSize: the ring jitter buffer takes memory for the depth
// it waits, not a megabyte (pion's samplebuilder keeps two 65,536-entry
// arrays, whatever its depth, which the garbage collector scans at every
// cycle).
func TestFrameBuilderSize(t *testing.T) {
	for _, mime := range []string{"audio/opus", "video/vp8"} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b := newFrameBuilder(codecFor(mime), Ring)
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(b)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("%s: the jitter buffer takes %d KiB, want 64 KiB at most", mime, n>>10)
		}
	}
}
