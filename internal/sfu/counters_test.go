package sfu

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestCountersTallyForwarding(t *testing.T) {
	tr := newTestTrack()
	subscribe(tr, 1, 96, &recorder{})
	subscribe(tr, 2, 96, &recorder{})
	// Its connection is not ready: pion writes nothing.
	subscribe(tr, 3, 96, writerFunc(func(*rtp.Header, []byte) (int, error) { return 0, nil }))
	tr.Subscribe() // not bound: not counted at all
	var scratch rtp.Packet
	forwardFirst(tr, vp8(t, 9, false), &scratch) // all three wait for a keyframe
	forwardFirst(tr, vp8(t, 10, true), &scratch) // two start, one fails to write
	forwardFirst(tr, vp8(t, 11, false), &scratch)
	forwardFirst(tr, []byte{0x80}, &scratch) // too short to parse

	l := (*tr.layers.Load())[0]
	if got := tr.counters.Snapshot().Received[1].Packets; got != 1 {
		t.Errorf("before a second has passed: %d packets received counted, want the first only", got)
	}
	l.tally.addTo(tr.counters, 1, time.Now().UnixNano())
	s := tr.counters.Snapshot()
	if want := (Flow{3, 3 * 1100}); s.Received[1] != want {
		t.Errorf("received %+v, want %+v", s.Received[1], want)
	}
	if want := (Flow{4, 4 * 1100}); s.Forwarded[1] != want {
		t.Errorf("forwarded %+v, want %+v", s.Forwarded[1], want)
	}
	if s.Received[0] != (Flow{}) || s.Forwarded[0] != (Flow{}) {
		t.Errorf("audio counted for a video track: %+v %+v", s.Received[0], s.Forwarded[0])
	}
	want := [numDropReasons]uint64{DropKeyframe: 4, DropWrite: 1, DropMalformed: 1}
	if s.Dropped != want {
		t.Errorf("dropped %v, want %v", s.Dropped, want)
	}
}

func TestReportRTT(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 500e6, time.UTC).UnixNano()
	sent := now - int64(30*time.Millisecond)
	held := uint32(10 * 65536 / 1000) // 10 ms in 1/65536 s
	rtt, ok := reportRTT(ntpMiddle(sent), held, now)
	if !ok || rtt < 19*time.Millisecond || rtt > 21*time.Millisecond {
		t.Errorf("rtt %v %v, want 20ms", rtt, ok)
	}
	if _, ok := reportRTT(0, 0, now); ok {
		t.Error("a report naming no sender report gave a round trip")
	}
	if _, ok := reportRTT(ntpMiddle(sent), 65536, now); ok {
		t.Error("a report held longer than since the sender report gave a round trip")
	}
	if rtt, ok := reportRTT(ntpMiddle(sent), uint32(30*65536/1000)+10, now); !ok || rtt != 0 {
		t.Errorf("a round trip just under 0 from rounding: %v %v, want 0", rtt, ok)
	}
	// The NTP seconds wrap in the middle 32 bits every 18 hours.
	wrap := (int64(1)<<16 - 2208988800%(1<<16)) * int64(time.Second)
	if rtt, ok := reportRTT(ntpMiddle(wrap-int64(time.Millisecond)), 0, wrap+int64(time.Millisecond)); !ok ||
		rtt < 1900*time.Microsecond || rtt > 2100*time.Microsecond {
		t.Errorf("across the wrap: %v %v, want 2ms", rtt, ok)
	}
}

func TestReceiverReportsNoted(t *testing.T) {
	tr := newTestTrack()
	d := subscribe(tr, 7, 96, discard{})
	if d.Stats().RTT != nil {
		t.Error("a round trip before any report")
	}
	now := time.Now().UnixNano()
	lsr := ntpMiddle(now - int64(5*time.Millisecond))
	d.noteReportsAt([]rtcp.ReceptionReport{
		{SSRC: 8, FractionLost: 200}, // another stream of the connection
		{SSRC: 7, FractionLost: 64, LastSenderReport: lsr, Delay: 65536 / 1000},
	}, now)
	st := d.Stats()
	if st.RTT == nil || *st.RTT < 3.5 || *st.RTT > 4.5 || st.Lost != 0.25 {
		t.Errorf("stats %+v, want rtt 4 ms and a quarter lost", st)
	}
	s := tr.counters.Snapshot()
	if s.RTCP[RTCPReceiverReport] != 1 {
		t.Errorf("%d reports counted, want 1", s.RTCP[RTCPReceiverReport])
	}
	rtt, lost := s.RTT[1], s.Lost[1]
	if rtt.Count != 1 || rtt.Buckets[0.0025] != 0 || rtt.Buckets[0.005] != 1 || math.Abs(rtt.Sum-0.004) > 0.0005 {
		t.Errorf("rtt histogram %+v", rtt)
	}
	if lost.Count != 1 || lost.Buckets[0.2] != 0 || lost.Buckets[0.5] != 1 || lost.Sum != 0.25 {
		t.Errorf("loss histogram %+v", lost)
	}
	if s.RTT[0].Count != 0 {
		t.Error("a video report counted as audio")
	}
}

func TestNacked(t *testing.T) {
	nack := &rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{3, 4, 9, 30, 100, 101, 102})}
	if n := nacked(nack); n != 7 {
		t.Errorf("nacked %d, want 7", n)
	}
}

// writerFunc is a subscriber's stream whose writes f answers.
type writerFunc func(*rtp.Header, []byte) (int, error)

func (f writerFunc) WriteRTP(h *rtp.Header, p []byte) (int, error) { return f(h, p) }
func (f writerFunc) Write(b []byte) (int, error)                   { return len(b), nil }
