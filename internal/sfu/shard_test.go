package sfu

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// stallable is a subscriber's writer that keeps what it is sent and, once
// stalled, blocks in its next write until released: a shard whose
// goroutine does not run.
type stallable struct {
	recorder
	gate    atomic.Pointer[chan struct{}]
	blocked chan struct{}
	once    sync.Once
}

func newStallable() *stallable { return &stallable{blocked: make(chan struct{})} }

// stall makes w's next write block until resume is called; resume may be
// called more than once.
func (w *stallable) stall() (resume func()) {
	gate := make(chan struct{})
	var once sync.Once
	w.gate.Store(&gate)
	return func() {
		w.gate.Store(nil)
		once.Do(func() { close(gate) })
	}
}

// waitDrained waits until l's shards have sent all they were handed.
func waitDrained(t *testing.T, l *layer) {
	t.Helper()
	l.forwarding.Lock()
	s := l.shards
	l.forwarding.Unlock()
	waitFor(t, "the stalled shard sends what it holds", func() bool { return s.pending.Load() == 0 })
}

func (s *stallable) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if g := s.gate.Load(); g != nil {
		s.once.Do(func() { close(s.blocked) })
		<-*g
	}
	return s.recorder.WriteRTP(h, payload)
}

// origins are the publisher's sequence numbers of what w got (shardPacket
// puts each in the payload), and whether each was a keyframe.
func origins(w *recorder) (seqs []uint16, keys []bool) {
	for _, p := range w.packets() {
		seqs = append(seqs, binary.BigEndian.Uint16(p.Payload[10:]))
		keys = append(keys, isVP8Keyframe(p.Payload))
	}
	return seqs, keys
}

// shardTestPacket is a VP8 packet of a publisher that carries its own
// sequence number in its payload too, where forwarding leaves it.
func shardTestPacket(t testing.TB, seq uint16, key bool) []byte {
	t.Helper()
	payload := make([]byte, 200)
	payload[0] = 0x10
	if !key {
		payload[1] = 0x01
	}
	binary.BigEndian.PutUint16(payload[10:], seq)
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: 0xabcd}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forwardWithin forwards a packet as the layer's read loop does, and
// fails the test if that does not return in time: the read loop waited
// for a shard.
func forwardWithin(t *testing.T, tr *Track, raw []byte, pkt *rtp.Packet) {
	t.Helper()
	l := (*tr.layers.Load())[0]
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.forwarding.Lock()
		defer l.forwarding.Unlock()
		forwardFirst(tr, raw, pkt)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the read loop waited 20 s for a shard that does not run")
	}
}

// TestStalledShardStallsNoOne splits a fan-out over four shards and
// stops one shard's goroutine (its first subscriber's write blocks): the
// read loop goes on, the other shards' subscribers get every packet in
// order, the stalled shard's packets are dropped past its queue and
// counted, and once it runs again its subscribers start again at a
// keyframe, in order.
func TestStalledShardStallsNoOne(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(4, runtime.GOMAXPROCS(0))))
	tr := newTestTrack()
	tr.shardMin = 2
	l := (*tr.layers.Load())[0]
	ws := make([]*stallable, 8)
	for i := range ws {
		ws[i] = newStallable()
		subscribe(tr, uint32(100+i), 96, ws[i])
	}
	seq := uint16(1000)
	next, stop := feedShards(t, tr, &seq)
	defer stop()
	for i := range 10 {
		next(i == 0)
	}
	for i, w := range ws {
		waitFor(t, fmt.Sprintf("subscriber %d's first packets", i), func() bool { return gotPacket(w, seq-1) })
	}
	l.forwarding.Lock()
	if l.shards == nil || len(l.shards.workers) != 4 {
		l.forwarding.Unlock()
		t.Fatal("the fan-out is not split over four shards")
	}
	stalled := l.shards.workers[0].part
	l.forwarding.Unlock()
	stuck := ws[slices.Index(*tr.downs.Load(), stalled[0])]
	resume := stuck.stall()
	defer resume()
	var others []*stallable
	for i, d := range *tr.downs.Load() {
		if !slices.Contains(stalled, d) {
			others = append(others, ws[i])
		}
	}

	// Past the stalled shard's queue, each packet reaching the others.
	next(false)
	<-stuck.blocked
	for range shardQueueLen + 20 {
		next(false)
		for i, w := range others {
			waitFor(t, fmt.Sprintf("subscriber %d of a shard that runs gets packet %d", i, seq-1), func() bool { return gotPacket(w, seq-1) })
		}
	}
	l.forwarding.Lock()
	dropped := l.tally.counted.dropped[DropShard]
	l.forwarding.Unlock()
	if want := uint64(len(stalled)); dropped < want {
		t.Errorf("%d packets counted as dropped for the stalled shard, want at least %d", dropped, want)
	}

	// The stalled shard runs again: its subscribers start at a keyframe.
	resume()
	waitDrained(t, l)
	next(false)
	next(true)
	for range 5 {
		next(false)
	}
	last := seq - 1
	for i, w := range ws {
		waitFor(t, fmt.Sprintf("subscriber %d gets the last packet", i), func() bool { return gotPacket(w, last) })
	}
	for i, w := range ws {
		mate := slices.Contains(stalled, (*tr.downs.Load())[i])
		gaps := checkStream(t, fmt.Sprintf("subscriber %d", i), w)
		if !mate && gaps > 0 {
			t.Errorf("subscriber %d, of a shard that ran, lost packets (%d gaps)", i, gaps)
		} else if mate && gaps != 1 {
			t.Errorf("subscriber %d, of the stalled shard, has %d gaps, want 1", i, gaps)
		}
	}
}

// checkStream fails unless what w got is one stream in order: outgoing
// sequence numbers one after another, the publisher's packets in order,
// and, after any packets missing, again from a keyframe. It returns how
// many times packets were missing.
func checkStream(t *testing.T, what string, w *stallable) (gaps int) {
	t.Helper()
	seqs, keys := origins(&w.recorder)
	out := w.packets()
	for j := 1; j < len(out); j++ {
		if out[j].SequenceNumber != out[j-1].SequenceNumber+1 {
			t.Errorf("%s: sequence number %d after %d", what, out[j].SequenceNumber, out[j-1].SequenceNumber)
			break
		}
	}
	for j := 1; j < len(seqs); j++ {
		switch {
		case seqs[j] == seqs[j-1]+1:
		case int16(seqs[j]-seqs[j-1]) <= 0:
			t.Errorf("%s: the publisher's packet %d after %d", what, seqs[j], seqs[j-1])
			return gaps
		default:
			gaps++
			if !keys[j] {
				t.Errorf("%s: starts again at packet %d after %d, not a keyframe", what, seqs[j], seqs[j-1])
			}
		}
	}
	return gaps
}

// TestSubscribersStayWithTheirShard: subscribers join and leave while
// one of four shards is stalled with packets queued. The stalled shard's
// subscribers stay with it (on a shard that runs they would get newer
// packets before the older ones it holds, and two goroutines would write
// their state), those who join start at a keyframe, the one who leaves
// costs the others nothing, and everyone's packets stay in order.
func TestSubscribersStayWithTheirShard(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(4, runtime.GOMAXPROCS(0))))
	tr := newTestTrack()
	tr.shardMin = 2
	l := (*tr.layers.Load())[0]
	writers := map[*DownTrack]*stallable{}
	add := func() {
		w := newStallable()
		writers[subscribe(tr, uint32(100+len(writers)), 96, w)] = w
	}
	for range 8 {
		add()
	}
	seq := uint16(60000) // the publisher's sequence numbers wrap meanwhile
	next, stop := feedShards(t, tr, &seq)
	defer stop()
	for i := range 10 {
		next(i == 0)
	}
	for d, w := range writers {
		waitFor(t, fmt.Sprintf("subscriber %d's first packets", wire(d.wire.Load()).ssrc()), func() bool { return gotPacket(w, seq-1) })
	}
	l.forwarding.Lock()
	stalled := l.shards.workers[0].part
	l.forwarding.Unlock()
	stuck := writers[stalled[0]]
	resume := stuck.stall()
	defer resume()
	var running []*DownTrack
	for _, d := range *tr.downs.Load() {
		if !slices.Contains(stalled, d) {
			running = append(running, d)
		}
	}
	next(false)
	<-stuck.blocked

	var left *DownTrack
	for i := range shardQueueLen + 20 {
		switch i {
		case 5, 15, 25, 35:
			add()
		case 10:
			left, running = running[0], running[1:]
			tr.Unsubscribe(left)
		}
		next(i%10 == 9)
		for _, d := range running {
			waitFor(t, fmt.Sprintf("subscriber %d of a shard that runs gets packet %d", wire(d.wire.Load()).ssrc(), seq-1),
				func() bool { return gotPacket(writers[d], seq-1) })
		}
	}

	resume()
	waitDrained(t, l)
	next(true)
	for range 5 {
		next(false)
	}
	last := seq - 1
	for _, d := range *tr.downs.Load() {
		waitFor(t, fmt.Sprintf("subscriber %d gets the last packet", wire(d.wire.Load()).ssrc()), func() bool { return gotPacket(writers[d], last) })
	}
	for d, w := range writers {
		what := fmt.Sprintf("subscriber %d", wire(d.wire.Load()).ssrc())
		if gaps := checkStream(t, what, w); gaps > 0 && slices.Contains(running, d) {
			t.Errorf("%s, of a shard that ran, lost packets (%d gaps)", what, gaps)
		}
	}
}

// feedShards returns next, which forwards a packet of tr's first layer
// numbered *seq (a keyframe if key) as the track's read loop would, and
// moves *seq on; and stop, which stops the layer's shards.
func feedShards(t *testing.T, tr *Track, seq *uint16) (next func(key bool), stop func()) {
	l := (*tr.layers.Load())[0]
	var pkt rtp.Packet
	next = func(key bool) {
		forwardWithin(t, tr, shardTestPacket(t, *seq, key), &pkt)
		*seq++
	}
	stop = func() {
		l.forwarding.Lock()
		l.stopShards()
		l.forwarding.Unlock()
	}
	return next, stop
}

// gotPacket reports whether w received the packet the publisher numbered s.
func gotPacket(w *stallable, s uint16) bool {
	seqs, _ := origins(&w.recorder)
	return slices.Contains(seqs, s)
}
