package sfu

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// QueueLimits bound what one subscriber may have waiting to be sent on a
// path that can block (ICE-TCP, a TURN relay, a socket of the
// connection's own, pion's write path): a fan-out never waits for one
// subscriber, it queues, and the queue is bounded so that a subscriber
// that stopped reading gets current media, not seconds of old, when it
// reads again.
type QueueLimits struct {
	// Bytes and Age bound the queue: past either, what it holds of video
	// is dropped and the subscriber's video resumes at a keyframe once the
	// queue drains; audio stays while it is younger than Age.
	Bytes int
	Age   time.Duration
	// Stall is how long a queue may stay backed up before the subscriber
	// is disconnected (Egress.OnStall).
	Stall time.Duration
}

// Default queue limits: a quarter of a megabyte is about a second of a
// 2 Mbit/s stream, and half a second is as late as live media can be
// before it is better dropped.
const (
	DefaultQueueBytes = 256 << 10
	DefaultQueueAge   = 500 * time.Millisecond
	DefaultStall      = 5 * time.Second
)

func (l QueueLimits) orDefaults() QueueLimits {
	if l.Bytes <= 0 {
		l.Bytes = DefaultQueueBytes
	}
	if l.Age <= 0 {
		l.Age = DefaultQueueAge
	}
	if l.Stall <= 0 {
		l.Stall = DefaultStall
	}
	return l
}

// queueBufs are the queue's packet buffers: an encrypted packet, or a
// plain one for pion's write path.
var queueBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, len(sealBuf{}))
	return &b
}}

// queued is one packet waiting: for to (the ICE connection, written by
// meetd's egress), or for pion's writer when pion is not nil.
type queued struct {
	buf   *[]byte
	at    int64
	video bool
	to    io.Writer
	pion  webrtc.TrackLocalWriter
}

// sendQueue is an Egress's packets for a path that can block, and the
// goroutine that writes them. The fan-out only copies a packet in; the
// writer, which holds none of the fan-out's locks, may wait on the
// socket as long as it likes.
type sendQueue struct {
	limits QueueLimits
	mu     sync.Mutex
	q      []queued
	head   int
	bytes  int
	// stalled is since when (unix nanoseconds) the queue has been backed
	// up: it overflowed and has not drained since. 0 when it is not.
	stalled int64
	running bool
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

// pushResult is what push did with a packet.
type pushResult struct {
	accepted bool
	// overflowed is set when this packet found the queue full: what it
	// held of video was dropped.
	overflowed bool
	// stalled is set once the queue has been backed up for the Stall
	// limit.
	stalled bool
}

// push queues a copy of b. While the queue is backed up it takes no
// video, and audio only within the limits, dropping the oldest first.
func (s *sendQueue) push(b []byte, video bool, now int64, to io.Writer, pion webrtc.TrackLocalWriter) pushResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r pushResult
	if s.closed {
		return r
	}
	if s.limits.Bytes == 0 {
		s.limits = s.limits.orDefaults()
	}
	if s.head < len(s.q) && (s.bytes+len(b) > s.limits.Bytes || now-s.q[s.head].at > int64(s.limits.Age)) {
		if s.stalled == 0 {
			s.stalled = now
			r.overflowed = true
		}
		s.dropLocked(now)
	}
	if s.stalled != 0 {
		r.stalled = now-s.stalled > int64(s.limits.Stall)
		if video {
			return r
		}
		for s.head < len(s.q) && s.bytes+len(b) > s.limits.Bytes {
			s.popLocked()
		}
	}
	buf := queueBufs.Get().(*[]byte)
	*buf = append((*buf)[:0], b...)
	if s.head > 0 && len(s.q) == cap(s.q) {
		n := copy(s.q, s.q[s.head:])
		zero(s.q[n:])
		s.q, s.head = s.q[:n], 0
	}
	s.q = append(s.q, queued{buf: buf, at: now, video: video, to: to, pion: pion})
	s.bytes += len(b)
	if !s.running {
		s.running = true
		s.wake = make(chan struct{}, 1)
		s.done = make(chan struct{})
		go s.run(s.wake, s.done)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	r.accepted = true
	return r
}

// dropLocked drops the queued video, and audio older than the age limit.
func (s *sendQueue) dropLocked(now int64) {
	kept := s.q[:0]
	for _, p := range s.q[s.head:] {
		if p.video || now-p.at > int64(s.limits.Age) {
			s.bytes -= len(*p.buf)
			queueBufs.Put(p.buf)
			continue
		}
		kept = append(kept, p)
	}
	zero(s.q[len(kept):])
	s.q, s.head = kept, 0
}

// popLocked takes the oldest packet off the queue, for nothing.
func (s *sendQueue) popLocked() {
	p := s.q[s.head]
	s.q[s.head] = queued{}
	s.head++
	s.bytes -= len(*p.buf)
	queueBufs.Put(p.buf)
}

// run writes the queue's packets until close.
func (s *sendQueue) run(wake, done chan struct{}) {
	for {
		s.mu.Lock()
		for s.head == len(s.q) {
			s.q, s.head = s.q[:0], 0
			s.stalled = 0
			s.mu.Unlock()
			select {
			case <-wake:
			case <-done:
				return
			}
			s.mu.Lock()
		}
		p := s.q[s.head]
		s.q[s.head] = queued{}
		s.head++
		s.bytes -= len(*p.buf)
		s.mu.Unlock()
		// Errors are the connection's closing, or a lost datagram, as
		// for the shared sockets: nothing to do but go on.
		if p.pion != nil {
			_, _ = p.pion.Write(*p.buf)
		} else {
			_, _ = p.to.Write(*p.buf)
		}
		queueBufs.Put(p.buf)
	}
}

// close drops what is queued and stops the writer (once its write
// returns: closing the connection ends a write that waits).
func (s *sendQueue) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for s.head < len(s.q) {
		s.popLocked()
	}
	if s.running {
		close(s.done)
	}
}

// OnStall sets f to be called, once and on a goroutine of its own, when
// the subscriber's queue stayed backed up for the Stall limit: it reads
// too little of what it is sent, or nothing at all. Call it before
// binding down tracks.
func (e *Egress) OnStall(f func()) { e.onStall = f }

// enqueue queues b, a packet for to (sealed by meetd's egress) or
// (plain) for pion's writer, and returns its length, or 0 when it was
// dropped. A queue that overflows makes the subscriber's video resume at
// its next keyframe.
func (e *Egress) enqueue(b []byte, video bool, to io.Writer, pion webrtc.TrackLocalWriter) int {
	r := e.queue.push(b, video, time.Now().UnixNano(), to, pion)
	if r.overflowed {
		e.counters.queueOverflows.Add(1)
		e.resync()
	}
	if r.stalled {
		e.stallOnce.Do(func() { go e.cut(to) })
	}
	if !r.accepted {
		return 0
	}
	return len(b)
}

// cut ends the ICE connection of a subscriber that stalled, then tells
// OnStall's function. Closing ICE ends the writes that wait on its socket
// (the queue's, and the DTLS alert closing the peer connection would
// send): none must wait for a subscriber that reads nothing.
func (e *Egress) cut(to io.Writer) {
	if c, ok := to.(io.Closer); ok {
		_ = c.Close()
	}
	if e.onStall != nil {
		e.onStall()
	}
}

// resync makes the video down tracks of e wait for a keyframe: what they
// sent last was dropped, and the subscriber can decode nothing after the
// gap until one comes.
func (e *Egress) resync() {
	senders := e.senders.Load()
	if senders == nil {
		return
	}
	for _, s := range *senders {
		if d := s.Down(); d != nil && d.track.kind == webrtc.RTPCodecTypeVideo {
			d.resync.Store(true)
		}
	}
}

// writePion queues h and payload for w, pion's writer of a down track's
// stream: pion's write path blocks as ICE does. It returns the packet's
// length, or 0 when it was dropped: before DTLS is connected, as pion
// drops it then, so that a video waits for the next keyframe.
func (e *Egress) writePion(w webrtc.TrackLocalWriter, h *rtp.Header, payload []byte, sb *sealBuf, video bool) (int, error) {
	if !e.connected.Load() {
		return 0, nil
	}
	hn, err := h.MarshalTo(sb[:])
	if err != nil || hn+len(payload) > maxPacketSize {
		return 0, errPacketTooLarge
	}
	copy(sb[hn:], payload)
	return e.enqueue(sb[:hn+len(payload)], video, nil, w), nil
}

var errPacketTooLarge = errors.New("RTP packet too large")

// zero clears q, so that its buffers and connections are not kept.
func zero(q []queued) {
	for i := range q {
		q[i] = queued{}
	}
}
