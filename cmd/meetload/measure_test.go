package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// The measuring code fed known inputs: what the floor, meetd's CPU time,
// the loss, freeze and latency counts and the ratio come to.

func TestFloorPerPacket(t *testing.T) {
	// 2000 bursts to 100 receivers in 0.5 s of the thread's CPU: 2.5 µs each.
	us, err := floorPerPacket(500*time.Millisecond, 0, 200000, 200000)
	if err != nil || us != 2.5 {
		t.Errorf("floorPerPacket = %v, %v; want 2.5 µs", us, err)
	}
	// The clock reads around the bursts are not the floor's: 0.1 s of
	// them leave 2 µs a packet.
	us, err = floorPerPacket(500*time.Millisecond, 100*time.Millisecond, 200000, 200000)
	if err != nil || us != 2 {
		t.Errorf("floorPerPacket with the clock's overhead = %v, %v; want 2 µs", us, err)
	}
	// 1% of the packets may miss their receivers; more, and the sender
	// may have skipped work the floor should count.
	if _, err := floorPerPacket(time.Millisecond, 0, 1000, 990); err != nil {
		t.Errorf("990 of 1000 received: %v", err)
	}
	if _, err := floorPerPacket(time.Millisecond, 0, 1000, 989); err == nil || !strings.Contains(err.Error(), "989 of 1000") {
		t.Errorf("989 of 1000 received: error %v, want one that says so", err)
	}
	// Nothing left once the clock's overhead is taken out: no floor.
	if us, err := floorPerPacket(time.Millisecond, time.Millisecond, 1000, 1000); err == nil {
		t.Errorf("all of it the clock's: floor %v, want an error", us)
	}
}

func TestMedianFloor(t *testing.T) {
	for _, c := range []struct {
		passes []float64
		want   float64
	}{
		{[]float64{2.1, 1.9, 2.0}, 2.0},
		{[]float64{3, 1}, 2},
		{[]float64{2.5}, 2.5},
		{[]float64{0, math.NaN(), 2, math.Inf(1), -1}, 2}, // only sound passes count
		{[]float64{0, math.NaN()}, 0},
		{nil, 0},
	} {
		if got := medianFloor(c.passes); got != c.want {
			t.Errorf("medianFloor(%v) = %v, want %v", c.passes, got, c.want)
		}
	}
}

func TestStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 1500 and stime 250
	// ticks (fields 14 and 15), other fields around them set apart.
	stat := "4242 (meet d) (x) S 1 4242 4242 0 -1 4194560 1234 7 8 9 1500 250 11 12 20 0 12 0 98765 " +
		"123456789 4567 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	d, err := statCPU([]byte(stat))
	if err != nil || d != 17500*time.Millisecond {
		t.Errorf("statCPU = %v, %v; want 17.5s", d, err)
	}
	for _, bad := range []string{
		"4242 meetd S 1 4242",             // no parentheses
		"4242 (meetd) S 1 4242 4242 0 -1", // too short
		"4242 (meetd) S 1 4242 4242 0 -1 4194560 1234 7 8 9 15x0 250 11",
	} {
		if _, err := statCPU([]byte(bad)); err == nil {
			t.Errorf("statCPU(%q) took it", bad)
		}
	}
	// The file the tool reads parses.
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Errorf("procCPU of this process: %v", err)
	}
}

// trackPacket is a packet a test receiver reads: its sequence number, the
// time the reader got it, and, if sent is not 0, its send stamp.
type trackPacket struct {
	seq      uint16
	now      int64
	sent, at int64 // at: its arrival at the socket, 0 if not noted
}

func newTestReceiver(measuring bool) (*receiver, *window) {
	w := &window{arrivals: new(arrivals)}
	w.measuring.Store(measuring)
	return newReceiver(w), w
}

// feed has r read pkts on track ts.
func feed(r *receiver, ts *trackState, pkts []trackPacket) {
	const ssrc = 0x5eed
	for _, p := range pkts {
		payload := make([]byte, videoPayload)
		if p.sent != 0 {
			binary.BigEndian.PutUint16(payload[stampOffset:], stampMagic)
			binary.BigEndian.PutUint64(payload[stampOffset+2:], uint64(p.sent))
		}
		if p.at != 0 {
			r.w.arrivals.put(ssrc, p.seq, p.at)
		}
		r.packet(ts, &rtp.Header{Version: 2, SequenceNumber: p.seq, SSRC: ssrc}, payload, p.now)
	}
}

func seqs(s ...uint16) []trackPacket {
	var pkts []trackPacket
	for i, seq := range s {
		pkts = append(pkts, trackPacket{seq: seq, now: int64(i) * int64(time.Millisecond)})
	}
	return pkts
}

func TestLossCount(t *testing.T) {
	for _, c := range []struct {
		name          string
		seqs          []uint16
		lost, packets uint64
	}{
		{"in order", []uint16{10, 11, 12, 13}, 0, 4},
		{"gaps", []uint16{10, 11, 14, 15, 17}, 3, 5},
		{"duplicates", []uint16{10, 11, 11, 12, 12, 12, 13}, 0, 4},
		{"wrap", []uint16{65533, 65534, 65535, 0, 1, 2}, 0, 6},
		{"gap across the wrap", []uint16{65534, 65535, 2, 3}, 2, 4},
		{"gap to the wrap", []uint16{65533, 0, 1}, 2, 3},
		{"duplicate across the wrap", []uint16{65535, 0, 65535, 0, 1}, 0, 3},
		{"first packet at 65535", []uint16{65535, 0}, 0, 2},
	} {
		r, w := newTestReceiver(true)
		feed(r, r.track(false), seqs(c.seqs...))
		if w.lost.Load() != c.lost || w.packets.Load() != c.packets {
			t.Errorf("%s %v: lost %d of %d packets, want %d of %d",
				c.name, c.seqs, w.lost.Load(), w.packets.Load(), c.lost, c.packets)
		}
	}
	// Gaps count only in the window; the one into the window counts.
	r, w := newTestReceiver(false)
	ts := r.track(false)
	feed(r, ts, seqs(1, 2, 5, 6))
	w.measuring.Store(true)
	feed(r, ts, seqs(9, 10))
	if w.lost.Load() != 2 || w.packets.Load() != 2 {
		t.Errorf("lost %d of %d in the window, want 2 of 2", w.lost.Load(), w.packets.Load())
	}
	// Each track has its own sequence numbers.
	a, b := r.track(false), r.track(true)
	feed(r, a, seqs(100, 101))
	feed(r, b, seqs(7000, 7001))
	feed(r, a, seqs(102))
	if w.lost.Load() != 2 {
		t.Errorf("two tracks in turn: lost %d, want the 2 before", w.lost.Load())
	}
}

func TestFreezeCount(t *testing.T) {
	ms := int64(time.Millisecond)
	// Video every 33 ms, with a pause of 250 ms after packet 3, one of
	// exactly 200 ms (not over it) after packet 6, and a duplicate of
	// packet 8 in the second pause.
	var video []trackPacket
	at := int64(0)
	for seq := uint16(1); seq <= 10; seq++ {
		switch seq {
		case 4:
			at += 250 * ms
		case 7:
			at += 200 * ms
		case 9:
			video = append(video, trackPacket{seq: 8, now: at + 100*ms})
			at += 201 * ms
		default:
			at += 33 * ms
		}
		video = append(video, trackPacket{seq: seq, now: at})
	}
	r, w := newTestReceiver(true)
	v := r.track(true)
	feed(r, v, video)
	if f := w.freezes.Load(); f != 2 {
		t.Errorf("%d freezes, want 2 (250 ms and 201 ms over a duplicate)", f)
	}
	if r.setup() != time.Duration(33*ms-r.dialed) {
		t.Errorf("setup %v, want the first video packet's time", r.setup())
	}

	// Audio pauses are not freezes.
	a := r.track(false)
	feed(r, a, []trackPacket{{seq: 1, now: 0}, {seq: 2, now: 500 * ms}})
	if f := w.freezes.Load(); f != 2 {
		t.Errorf("%d freezes after an audio pause, want still 2", f)
	}

	// A pause before the window is not counted.
	r, w = newTestReceiver(false)
	v = r.track(true)
	feed(r, v, []trackPacket{{seq: 1, now: 0}, {seq: 2, now: 300 * ms}})
	w.measuring.Store(true)
	feed(r, v, []trackPacket{{seq: 3, now: 333 * ms}})
	if f := w.freezes.Load(); f != 0 {
		t.Errorf("%d freezes, want none in the window", f)
	}

	// A freeze still going on when the window ends: over 200 ms since the
	// last video packet; not for a track that never had video, nor after
	// the subscriber left.
	r.track(true)
	if n := r.stalled(533 * ms); n != 0 {
		t.Errorf("stalled 200 ms after the last packet: %d, want 0", n)
	}
	if n := r.stalled(534 * ms); n != 1 {
		t.Errorf("stalled 201 ms after the last packet: %d, want 1", n)
	}
	r.closed.Store(true)
	if n := r.stalled(time.Hour.Nanoseconds()); n != 0 {
		t.Errorf("stalled after leaving: %d, want 0", n)
	}
}

func TestLatencyQuantiles(t *testing.T) {
	var h histogram
	if q := finite(h.quantile(0.5)); q != -1 {
		t.Errorf("no samples: %v, want -1", q)
	}
	// Samples in buckets 1 to 200, 10 µs wide: a quantile is the upper
	// edge of the bucket of the sample it falls on, ceil(q × 200).
	for i := int64(200); i >= 1; i-- {
		h.add(i*histStep + histStep/2)
	}
	for _, c := range []struct{ q, want float64 }{
		{0.5, 1.01},   // sample 100
		{0.99, 1.99},  // sample 198
		{0.999, 2.01}, // sample 199.8: the 200th
		{1, 2.01},
	} {
		if got := finite(h.quantile(c.q)); got != c.want {
			t.Errorf("quantile(%v) = %v ms, want %v", c.q, got, c.want)
		}
	}

	// 99 fast and one slow; one before the stamp (clocks) counts as 0,
	// and one over 200 ms in the last bucket.
	h = histogram{}
	for range 98 {
		h.add(int64(time.Millisecond))
	}
	h.add(-5)
	h.add(int64(time.Second))
	for _, c := range []struct{ q, want float64 }{
		{0.01, 0.01}, {0.5, 1.01}, {0.99, 1.01}, {0.999, 200.01},
	} {
		if got := finite(h.quantile(c.q)); got != c.want {
			t.Errorf("quantile(%v) = %v ms, want %v", c.q, got, c.want)
		}
	}

	// Through the reader: the socket's latency is the arrival minus the
	// stamp, the read's the read minus the stamp; a packet whose arrival
	// was not noted counts as unstamped.
	ms := int64(time.Millisecond)
	r, w := newTestReceiver(true)
	feed(r, r.track(true), []trackPacket{
		{seq: 1, sent: 10 * ms, at: 11 * ms, now: 15 * ms},
		{seq: 2, sent: 20 * ms, at: 21 * ms, now: 25 * ms},
		{seq: 3, sent: 30 * ms, now: 35 * ms},
	})
	if p := finite(w.latency.quantile(1)); p != 1.01 || w.latency.count() != 2 {
		t.Errorf("socket latency max %v ms of %d, want 1.01 of 2", p, w.latency.count())
	}
	if p := finite(w.readLatency.quantile(1)); p != 5.01 || w.readLatency.count() != 3 {
		t.Errorf("read latency max %v ms of %d, want 5.01 of 3", p, w.readLatency.count())
	}
	if w.unstamped.Load() != 1 {
		t.Errorf("unstamped %d, want 1", w.unstamped.Load())
	}
}

// count is how many samples h holds.
func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.buckets {
		n += h.buckets[i].Load()
	}
	return n
}

func TestFill(t *testing.T) {
	w := new(window)
	w.packets.Store(100000)
	w.lost.Store(25)
	w.freezes.Store(3)
	w.unstamped.Store(4)
	w.sizes[1112].Store(75000)
	w.sizes[132].Store(25000)
	var res result
	err := res.fill(windowTotals{
		elapsed: 10 * time.Second,
		server:  3 * time.Second, // 30 µs a packet
		client:  5 * time.Second, // half a core
	}, w)
	if err != nil {
		t.Fatal(err)
	}
	// The floor: the median of its passes, 15 µs.
	if err := res.setFloor([]float64{16, 14, 15}); err != nil {
		t.Fatal(err)
	}
	want := result{
		Seconds: 10, ForwardedPPS: 10000, ServerCores: 0.3, ClientCores: 0.5,
		CPUUsPerPkt: 30, FloorUsPerPkt: 15, RatioToFloor: 2, FloorPassesUs: []float64{16, 14, 15},
		PacketBytes: 867, // 0.75 × 1112 + 0.25 × 132
		P50Ms:       -1, P99Ms: -1, P999Ms: -1, ReadP50Ms: -1, ReadP99Ms: -1, ReadP999Ms: -1,
		Unstamped: 4, Loss: 25, LossRate: 25.0 / 100025, Freezes: 3,
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("fill:\n got %+v\nwant %+v", res, want)
	}

	// No packets: an error, and no NaN or Inf for the JSON to choke on.
	w = new(window)
	res = result{}
	err = res.fill(windowTotals{elapsed: 10 * time.Second, server: time.Second}, w)
	if err == nil || !strings.Contains(err.Error(), "no packets") {
		t.Errorf("no packets: error %v", err)
	}
	checkJSON(t, res)
}

// checkJSON checks that res encodes: encoding/json refuses NaN and Inf,
// and the tool's output would end there.
func checkJSON(t *testing.T, res result) {
	t.Helper()
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("the result does not encode: %v", err)
	}
}

// A floor of zero (a thread CPU clock that did not move, say) has no
// ratio: the run says so, and its figures still encode, where a ratio of
// +Inf would stop the tool's JSON output.
func TestZeroFloor(t *testing.T) {
	for _, passes := range [][]float64{nil, {0, 0, 0}, {0.0002, 0.0004, 0.0001}, {math.NaN(), math.NaN(), 2}, {math.Inf(1), 0, 0}} {
		w := new(window)
		w.packets.Store(100000)
		var res result
		if err := res.fill(windowTotals{elapsed: 10 * time.Second, server: 3 * time.Second}, w); err != nil {
			t.Fatal(err)
		}
		ok := !math.IsNaN(medianFloor(passes)) && round(medianFloor(passes), 3) > 0
		err := res.setFloor(passes)
		if ok {
			// One sound pass of three: that is the floor.
			if err != nil || res.FloorUsPerPkt != 2 || res.RatioToFloor != 15 {
				t.Errorf("passes %v: floor %v, ratio %v, %v; want 2, 15", passes, res.FloorUsPerPkt, res.RatioToFloor, err)
			}
		} else {
			if err == nil || !strings.Contains(err.Error(), "floor") {
				t.Errorf("passes %v: error %v, want one about the floor", passes, err)
			}
			if res.CPUUsPerPkt != 30 || res.RatioToFloor != 0 || res.FloorUsPerPkt != 0 {
				t.Errorf("passes %v: %v µs a packet, floor %v, ratio %v; want 30, 0, 0",
					passes, res.CPUUsPerPkt, res.FloorUsPerPkt, res.RatioToFloor)
			}
		}
		checkJSON(t, res)
	}
	// Nor a window that took no time.
	w := new(window)
	w.packets.Store(1)
	var res result
	if err := res.fill(windowTotals{}, w); err == nil {
		t.Error("a window of no time: no error")
	}
	checkJSON(t, res)
	// The floor itself is never 0 or NaN.
	if us, err := floorPerPacket(0, 0, 1000, 1000); err == nil {
		t.Errorf("no CPU time: floor %v, want an error", us)
	}
	if us, err := floorPerPacket(time.Millisecond, 0, 0, 0); err == nil {
		t.Errorf("no packets: floor %v, want an error", us)
	}
}

// A run whose ratio could not be had shows its row and says why.
func TestTableSaysWhatIsMissing(t *testing.T) {
	var out strings.Builder
	printTable(&out, report{results: []result{
		{Workload: "w1", Subscribers: 5, ForwardedPPS: 950, CPUUsPerPkt: 30, Error: "the floor came to 0 and 0 µs per packet: no ratio to it"},
		{Workload: "w2", Subscribers: 3, Error: "no packets arrived in the window"},
	}})
	for _, want := range []string{"950", "w1:5: the floor came to 0", "w2:3 did not run: no packets"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, out.String())
		}
	}
}

// A packet that arrives behind a later one, out of order or resent after
// a NACK (meetd resends with the same sequence number), is not lost: it
// counts as late, and only while the window runs, as its gap did.
func TestLateIsNotLost(t *testing.T) {
	upTo := func(from, to uint16) []uint16 {
		var s []uint16
		for x := from; x != to+1; x++ {
			s = append(s, x)
		}
		return s
	}
	for _, c := range []struct {
		name             string
		seqs             []uint16
		lost, late, pkts uint64
	}{
		{"swapped", []uint16{1, 3, 2, 4}, 0, 1, 3},
		{"late twice", []uint16{1, 3, 2, 2, 4}, 0, 1, 3},
		{"backwards", []uint16{1, 4, 3, 2}, 0, 2, 2},
		{"one of two", []uint16{1, 4, 3}, 1, 1, 2},
		{"across the wrap", []uint16{65534, 1, 65535, 0}, 0, 2, 2},
		{"first behind", []uint16{5, 4}, 0, 0, 1},
		{"too late", append(append([]uint16{1}, upTo(3, 1030)...), 2), 1, 0, 1029},
		{"just in time", append(append([]uint16{1}, upTo(3, 1025)...), 2), 0, 1, 1024},
		// 1026 takes 2's place in the window; its duplicate is not 2.
		{"place taken", append(append([]uint16{1}, upTo(3, 1030)...), 1026), 1, 0, 1029},
		{"far ahead", []uint16{1, 3000, 2999, 1500}, 2997, 1, 2},
	} {
		r, w := newTestReceiver(true)
		feed(r, r.track(true), seqs(c.seqs...))
		if w.lost.Load() != c.lost || w.late.Load() != c.late || w.packets.Load() != c.pkts {
			t.Errorf("%s: lost %d, late %d, packets %d; want %d, %d, %d", c.name,
				w.lost.Load(), w.late.Load(), w.packets.Load(), c.lost, c.late, c.pkts)
		}
	}

	// A gap before the window, filled in it, was not counted lost and is
	// not late; one in the window filled after it stays lost.
	r, w := newTestReceiver(false)
	ts := r.track(false)
	feed(r, ts, seqs(1, 3))
	w.measuring.Store(true)
	feed(r, ts, seqs(2, 5))
	w.measuring.Store(false)
	feed(r, ts, seqs(4))
	if w.lost.Load() != 1 || w.late.Load() != 0 {
		t.Errorf("at the window's edges: lost %d, late %d; want 1, 0", w.lost.Load(), w.late.Load())
	}

	// The loss rate is over the packets sent: received in order, late
	// and lost.
	w = new(window)
	w.packets.Store(970)
	w.late.Store(20)
	w.lost.Store(10)
	var res result
	if err := res.fill(windowTotals{elapsed: time.Second}, w); err != nil {
		t.Fatal(err)
	}
	if res.Loss != 10 || res.Late != 20 || res.LossRate != 0.01 {
		t.Errorf("loss %d, late %d, rate %v; want 10, 20, 0.01", res.Loss, res.Late, res.LossRate)
	}
}
