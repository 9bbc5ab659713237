package sfu

import (
	"runtime"
	"sync"

	"github.com/pion/rtp"

	"github.com/meetd/meetd/internal/udpbatch"
)

// DefaultFanOutShard is Config.FanOutShard's default: the fewest
// subscribers a shard of one packet's fan-out is given. Below twice that,
// a layer's read loop sends to every subscriber itself, as with no
// sharding at all (docs/performance.md has the measurement).
const DefaultFanOutShard = 250

// A layer's read loop sends each packet to every subscriber in turn, so
// one broadcast would use one core however many the server has. When a
// layer has many subscribers, its fan-out is split instead: the read
// loop hands each of up to GOMAXPROCS-1 shard goroutines a contiguous
// part of the subscriber list, sends to the first part itself, and waits
// until every part is sent before it reads the next packet.
//
// Waiting for all parts keeps what the fan-out guarantees without
// shards: a subscriber gets the packets of a layer in order, whichever
// part it falls in from one packet to the next as others come and go; a
// down track's state has one owner at a time (the wait orders the
// shards' writes before the next packet's); layer switches happen at
// keyframes as before (each part runs the same writeRTP); and a slow
// subscriber slows no part (the shared sockets never block, other paths
// are queued). Each part seals in a buffer of its own and sends with
// sendmmsg calls of its own (udpbatch.Queue), so that the parts do not
// take turns on a socket's lock. A packet's fan-out costs a hand-off per
// shard, tens of microseconds, which is why small audiences have none:
// no shard goroutine exists until a layer's fan-out is large enough.

// shardSet is one layer's shard goroutines, made when its fan-out first
// needs them and stopped when its read loop ends. It is the forwarding
// read loop's (layer.forwarding).
type shardSet struct {
	workers []*shardWorker
	// own is the read loop's part's queue and sealing buffer.
	own     *udpbatch.Queue
	ownSeal *sealBuf
	wg      sync.WaitGroup
	// hdr is the packet's header, which the parts share: here, not on
	// the read loop's stack, from which it would escape to the heap.
	hdr rtp.Header
}

// shardWorker is one shard goroutine.
type shardWorker struct {
	jobs  chan *shardJob
	job   shardJob
	queue *udpbatch.Queue
	seal  *sealBuf
}

// shardJob is one part of a packet's fan-out; info is the part's own
// copy, whose counts the read loop adds up.
type shardJob struct {
	downs   []*DownTrack
	l       *layer
	h       *rtp.Header
	payload []byte
	info    packetInfo
}

// shardsFor is how many parts a fan-out to n subscribers is split into:
// one (no split) below 2×per, at most GOMAXPROCS.
func shardsFor(n, per int) int {
	if per <= 0 || n < 2*per {
		return 1
	}
	return min(n/per, runtime.GOMAXPROCS(0))
}

// fanOutShards sends a packet of layer l to downs in k parts, the first
// on the calling read loop, and adds what the parts did to info.
func (t *Track) fanOutShards(k int, downs []*DownTrack, l *layer, h *rtp.Header, payload []byte, info *packetInfo) {
	s := l.shards
	if s == nil {
		s = &shardSet{own: udpbatch.NewQueue(), ownSeal: new(sealBuf)}
		l.shards = s
	}
	for len(s.workers) < k-1 {
		w := &shardWorker{jobs: make(chan *shardJob, 1), queue: udpbatch.NewQueue(), seal: new(sealBuf)}
		go w.run(&s.wg)
		s.workers = append(s.workers, w)
	}
	t.counters.shardedFanOuts.Add(1)
	s.hdr = *h
	shared := &s.hdr
	n := len(downs)
	s.wg.Add(k - 1)
	for i := 1; i < k; i++ {
		w := s.workers[i-1]
		w.job = shardJob{downs: downs[i*n/k : (i+1)*n/k], l: l, h: shared, payload: payload, info: *info}
		w.job.info.seal = w.seal
		w.jobs <- &w.job
	}
	own := *info
	own.seal, own.queue = s.ownSeal, s.own
	fanOut(downs[:n/k], l, h, payload, &own)
	s.own.Flush()
	s.wg.Wait()
	info.add(&own)
	for _, w := range s.workers[:k-1] {
		info.add(&w.job.info)
	}
}

// run sends the parts it is handed until its channel closes.
func (w *shardWorker) run(wg *sync.WaitGroup) {
	for j := range w.jobs {
		j.info.queue = w.queue
		fanOut(j.downs, j.l, j.h, j.payload, &j.info)
		w.queue.Flush()
		wg.Done()
	}
}

// stopShards ends the layer's shard goroutines; the read loop calls it
// as it ends, holding layer.forwarding.
func (l *layer) stopShards() {
	if l.shards == nil {
		return
	}
	for _, w := range l.shards.workers {
		close(w.jobs)
	}
	l.shards = nil
}

// add adds what a part of a fan-out did to i.
func (i *packetInfo) add(part *packetInfo) {
	i.sent += part.sent
	i.waiting += part.waiting
	i.failed += part.failed
}
