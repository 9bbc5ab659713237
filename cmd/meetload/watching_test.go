package main

import (
	"testing"
	"time"
)

// W3 asks whether viewers already watching notice others come and go: a
// newcomer's first second (its first keyframe, its first frames) is its
// setup, counted apart; from then on its freezes and latency count, timed
// at the socket when the arrival was noted there.
func TestOnlyViewersWatchingCount(t *testing.T) {
	ms := int64(time.Millisecond)
	r, w := newTestReceiver(true)
	w.settle = int64(time.Second)
	v := r.track(true)
	// Video starts at 100 ms, pauses 300 ms at once, though the publisher
	// sent on (within its first second: a newcomer's freeze), then runs;
	// latency 50 ms before it watches, 1 ms after.
	pkts := []trackPacket{{seq: 1, sent: 50 * ms, at: 100 * ms, now: 100 * ms}}
	seq := uint16(2)
	for at := 400 * ms; at < 1166*ms; at += 33 * ms {
		lat := 50 * ms
		if at >= 1100*ms {
			lat = ms
		}
		sent := at - lat
		if at == 400*ms {
			sent = 120 * ms
		}
		pkts = append(pkts, trackPacket{seq: seq, sent: sent, at: at, now: at})
		seq++
	}
	feed(r, v, pkts)
	if w.freezes.Load() != 0 || w.joinFreezes.Load() != 1 {
		t.Errorf("freezes %d, join freezes %d; want 0 and 1", w.freezes.Load(), w.joinFreezes.Load())
	}
	if n := w.latency.count(); n != 2 || finite(w.latency.quantile(1)) != 1.01 {
		t.Errorf("latency of %d packets, max %v ms; want 2 packets, 1.01 ms", n, finite(w.latency.quantile(1)))
	}
	if w.packets.Load() != uint64(len(pkts)) {
		t.Errorf("%d packets forwarded, want all %d", w.packets.Load(), len(pkts))
	}

	// Watching, reads the tool itself delayed over arrivals that came in
	// time are no freeze: arrivals 7 ms apart read 203 ms apart.
	feed(r, v, []trackPacket{{seq: seq, at: 1166 * ms, now: 1362 * ms}, {seq: seq + 1, at: 1199 * ms, now: 1363 * ms}})
	if w.freezes.Load() != 0 {
		t.Errorf("freezes %d, want none: the reads were late, not the arrivals", w.freezes.Load())
	}
	// A gap at the socket is one, however the reads came: 301 ms between
	// arrivals read 138 ms apart.
	feed(r, v, []trackPacket{{seq: seq + 2, sent: 1231 * ms, at: 1500 * ms, now: 1501 * ms}})
	if w.freezes.Load() != 1 {
		t.Errorf("freezes %d, want 1: the 301 ms gap at the socket", w.freezes.Load())
	}
	// A gap the publisher made, sending 250 ms apart, is not meetd's.
	feed(r, v, []trackPacket{{seq: seq + 3, sent: 1481 * ms, at: 1751 * ms, now: 1751 * ms}})
	if w.freezes.Load() != 1 || w.sourcePauses.Load() != 1 {
		t.Errorf("freezes %d, publisher's pauses %d; want 1 and 1", w.freezes.Load(), w.sourcePauses.Load())
	}

	// One that left counts no more, nor does a freeze still going on.
	r.closed.Store(true)
	feed(r, v, []trackPacket{{seq: seq + 4, sent: 1780 * ms, at: 2051 * ms, now: 2051 * ms}})
	if w.freezes.Load() != 1 || w.joinFreezes.Load() != 1 || r.stalled(3000*ms) != 0 {
		t.Errorf("after leaving: freezes %d, join freezes %d, stalled %d; want 1, 1, 0",
			w.freezes.Load(), w.joinFreezes.Load(), r.stalled(3000*ms))
	}
}
