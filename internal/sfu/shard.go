package sfu

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/meetd/meetd/internal/egress"
	"github.com/meetd/meetd/internal/udpbatch"
)

// DefaultFanOutShard is Config.FanOutShard's default: the fewest
// subscribers a shard of one layer's fan-out is given. Below twice that,
// a layer's read loop sends to every subscriber itself, as with no
// sharding at all (docs/performance.md has the measurement).
const DefaultFanOutShard = 250

// A layer's read loop sends each packet to every subscriber in turn, so
// one broadcast would use one core however many the server has. When a
// layer has many subscribers, its fan-out is split instead: the
// subscribers are shared out among up to GOMAXPROCS shard goroutines,
// and the read loop hands each packet to every shard through a bounded
// queue and goes on reading at once. The shards run as a pipeline: none
// waits for another, and the read loop waits for none.
//
// A down track's state (its rewriter, header, the egress's state of its
// stream) is written only by the shard it is with, which sends a layer's
// packets in the order they were handed: so each subscriber gets them in
// order. A down track moves to another shard only at a hand-off point,
// when every shard has sent all it was handed (pending is 0): then the
// read loop owns every down track, and may balance the parts again,
// change their number, or send itself again. Between hand-off points a
// new subscriber joins the smallest part, and one that left is just no
// longer handed packets.
//
// A shard that falls behind (descheduled, or starved of CPU) never
// stalls the read loop or the other shards: when its queue is full, the
// packet is dropped for its part only, counted (DropShard), and its
// video subscribers start again at the next keyframe. Each shard seals in
// a buffer of its own and sends with sendmmsg calls of its own
// (udpbatch.Queue), so that shards do not take turns on a socket's lock.
// A hand-off costs a copy of the packet and a wake-up per shard, which is
// why small audiences have none: no shard goroutine exists until a
// layer's fan-out is large enough.

// shardQueueLen bounds the packets a shard may have waiting, as
// inQueueLen bounds a layer's at the socket: a frame's burst fits, and a
// shard that is that far behind drops rather than adds latency.
const shardQueueLen = 64

// shardSet is one layer's shard goroutines, made when its fan-out first
// needs them and stopped when its read loop ends or at a hand-off point
// once the audience is small again. It is the forwarding read loop's
// (layer.forwarding), but for pending and free.
type shardSet struct {
	workers []*shardWorker
	// downs is the snapshot of the track's down tracks the parts were
	// made from; home is which worker each of them is with, spare the
	// map the next one is made in.
	downs       *[]*DownTrack
	home, spare map[*DownTrack]int
	// pending counts the packets handed to workers and not yet sent.
	// At 0 no worker touches a down track: a hand-off point.
	pending atomic.Int64
	// free holds packets no worker holds any more, for reuse.
	free chan *shardPacket
	// counters and kind are where the workers add what they sent.
	counters *Counters
	kind     int
	// warned is when a shard falling behind was last logged (unix
	// nanoseconds).
	warned int64
}

// shardWorker is one shard goroutine and what the read loop keeps about
// it.
type shardWorker struct {
	jobs chan shardJob
	// part is the worker's down tracks, handed with each packet: a new
	// slice whenever it changes, as queued jobs still hold the old one.
	// missed is set when a packet was dropped for the worker since the
	// last one handed. Both are the read loop's.
	part   []*DownTrack
	missed bool
	// The worker's own: its batch of datagrams, its space to encrypt in,
	// and its counts.
	queue *udpbatch.Queue
	seal  *sealBuf
	tally layerTally
}

// shardJob is one packet for one worker's part of the subscribers. gap
// says packets were dropped for the part before this one.
type shardJob struct {
	pkt   *shardPacket
	downs []*DownTrack
	gap   bool
}

// shardPacket is a copy of a packet the read loop handed to the workers:
// the read loop's buffer is reused for the next packet at once. The last
// worker to send it puts it back on the free list.
type shardPacket struct {
	refs atomic.Int32
	l    *layer
	hdr  rtp.Header
	csrc [15]uint32
	info packetInfo
	n    int
	// buf is as large as a packet read at the socket can be (inSlot).
	buf [maxPacketSize + egress.MaxOverhead]byte
}

// shardsFor is how many parts a fan-out to n subscribers is split into:
// one (no split) below 2×per, at most GOMAXPROCS.
func shardsFor(n, per int) int {
	if per <= 0 || n < 2*per {
		return 1
	}
	return min(n/per, runtime.GOMAXPROCS(0))
}

// fanOutShards hands a packet of layer l to the layer's shards, making or
// changing them as the audience needs. It is false when the read loop is
// to send the packet itself: the audience is small, and no shard holds a
// down track.
func (t *Track) fanOutShards(l *layer, downs *[]*DownTrack, h *rtp.Header, payload []byte, info *packetInfo) bool {
	k := shardsFor(len(*downs), t.shardMin)
	s := l.shards
	if s == nil {
		if k < 2 {
			return false
		}
		s = &shardSet{
			home: map[*DownTrack]int{}, spare: map[*DownTrack]int{},
			free: make(chan *shardPacket, 2*shardQueueLen), counters: t.counters, kind: kindIndex(t.kind),
		}
		l.shards = s
	}
	if k != len(s.workers) || downs != s.downs {
		if !s.share(k, downs) {
			l.shards = nil
			return false
		}
	}
	t.counters.shardedFanOuts.Add(1)
	p := s.packet()
	p.l, p.info, p.n = l, *info, copy(p.buf[:], payload)
	p.hdr = *h
	p.hdr.CSRC = p.csrc[:copy(p.csrc[:], h.CSRC)]
	p.refs.Store(int32(len(s.workers)))
	for _, w := range s.workers {
		if len(w.part) == 0 {
			s.release(p)
			continue
		}
		s.pending.Add(1)
		select {
		case w.jobs <- shardJob{pkt: p, downs: w.part, gap: w.missed}:
			w.missed = false
		default:
			// The worker is shardQueueLen packets behind.
			s.pending.Add(-1)
			w.missed = true
			l.tally.counted.dropped[DropShard] += uint64(len(w.part))
			s.release(p)
			s.behind(t, l, info.now)
		}
	}
	return true
}

// share shares the down tracks of downs out among k workers. At a
// hand-off point it starts or stops workers to make k, and balances the
// parts; otherwise down tracks stay with their worker, and new ones join
// the smallest part. It is false when it stopped every worker (k < 2 at a
// hand-off point): the read loop sends itself from then on.
func (s *shardSet) share(k int, downs *[]*DownTrack) bool {
	idle := s.pending.Load() == 0
	if idle && k != len(s.workers) {
		if k < 2 {
			s.stop()
			return false
		}
		for _, w := range s.workers[min(k, len(s.workers)):] {
			close(w.jobs)
		}
		s.workers = s.workers[:min(k, len(s.workers))]
		for len(s.workers) < k {
			w := &shardWorker{jobs: make(chan shardJob, shardQueueLen), queue: udpbatch.NewQueue(), seal: new(sealBuf)}
			go w.run(s)
			s.workers = append(s.workers, w)
		}
	}
	s.downs = downs
	list := *downs
	n, parts := len(list), len(s.workers)
	home := s.spare
	clear(home)
	sizes := make([]int, parts)
	if idle {
		for i, d := range list {
			home[d] = i * parts / n
			sizes[home[d]]++
		}
	} else {
		for _, d := range list {
			if w, ok := s.home[d]; ok {
				home[d] = w
				sizes[w]++
			}
		}
		for _, d := range list {
			if _, ok := home[d]; !ok {
				w := smallest(sizes)
				home[d] = w
				sizes[w]++
			}
		}
	}
	for i, w := range s.workers {
		w.part = make([]*DownTrack, 0, sizes[i])
	}
	for _, d := range list {
		w := s.workers[home[d]]
		w.part = append(w.part, d)
	}
	s.home, s.spare = home, s.home
	return true
}

// behind says that a shard of l fell behind, at most once a second: its
// subscribers lose packets, and the server needs more cores or a larger
// -fanout-shard.
func (s *shardSet) behind(t *Track, l *layer, now int64) {
	if now-s.warned < int64(time.Second) {
		return
	}
	s.warned = now
	t.log.Warn("a shard of a large fan-out falls behind: its subscribers' packets are dropped",
		"rid", l.rid, "dropped", l.tally.counted.dropped[DropShard], "shards", len(s.workers))
}

// smallest is the index of the least of sizes.
func smallest(sizes []int) int {
	m := 0
	for i, n := range sizes {
		if n < sizes[m] {
			m = i
		}
	}
	return m
}

// packet is a free packet to copy one into.
func (s *shardSet) packet() *shardPacket {
	select {
	case p := <-s.free:
		return p
	default:
		// All are held: workers are behind, at most shardQueueLen+1
		// packets each.
		return new(shardPacket)
	}
}

// release drops one worker's hold on p, and frees it after the last.
func (s *shardSet) release(p *shardPacket) {
	if p.refs.Add(-1) != 0 {
		return
	}
	select {
	case s.free <- p:
	default:
	}
}

// run sends the packets it is handed to its part until its queue
// closes, and then adds its last counts.
func (w *shardWorker) run(s *shardSet) {
	for j := range w.jobs {
		p := j.pkt
		if j.gap {
			resyncAfterGap(j.downs, p.l)
		}
		info := p.info
		info.seal, info.queue = w.seal, w.queue
		fanOut(j.downs, p.l, &p.hdr, p.buf[:p.n], &info)
		w.queue.Flush()
		w.tally.countSent(s.counters, s.kind, &info)
		s.release(p)
		// Last: the read loop may give the down tracks to another
		// worker once pending is 0.
		s.pending.Add(-1)
	}
	w.tally.addTo(s.counters, s.kind, time.Now().UnixNano())
}

// resyncAfterGap makes the subscribers of downs that watch layer l wait
// for its next keyframe: packets of it were dropped for them, and a
// decoder would show the frames after the gap broken. Audio goes on; its
// subscribers hear the gap as loss.
func resyncAfterGap(downs []*DownTrack, l *layer) {
	for _, d := range downs {
		if d.current.Load() == l {
			d.resync.Store(true)
		}
	}
}

// stop ends the set's shard goroutines. Each sends what it was handed
// first, and adds its counts as it ends.
func (s *shardSet) stop() {
	for _, w := range s.workers {
		close(w.jobs)
	}
	s.workers = nil
}

// stopShards ends the layer's shard goroutines; the read loop calls it
// as it ends, holding layer.forwarding. It does not wait for them: a
// shard that is behind sends what it holds on its own.
func (l *layer) stopShards() {
	if l.shards == nil {
		return
	}
	l.shards.stop()
	l.shards = nil
}
