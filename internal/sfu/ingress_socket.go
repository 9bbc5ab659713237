package sfu

import (
	"encoding/binary"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/egress"
	"github.com/meetd/meetd/internal/udpbatch"
)

// socketIngress is the path of an Ingress at the shared UDP sockets: the
// socket's reader decrypts the publisher's RTP with the connection's keys
// (derived from its DTLS connection, as Egress derives them) and queues
// it for the layer's goroutine. It takes only RTP of a stream a layer
// took, from the remote address of ICE's selected pair; everything else
// (STUN, DTLS, RTCP, unknown streams) goes to pion as before. ICE still
// learns that the path is alive from its checks and their answers.
type socketIngress struct {
	in       *Ingress
	conns    []*udpbatch.Conn
	counters *Counters
	log      *slog.Logger

	// path is the keys to decrypt with, nil until DTLS is connected and
	// ICE selected a path on a shared socket, and again once it closes.
	path atomic.Pointer[srtp.Context]
	// dmu guards the decryption: path's context and hdr.
	dmu sync.Mutex
	hdr rtp.Header

	// state guards keys, route, listening and counted, from which path is
	// made.
	state     sync.Mutex
	keys      *srtp.Context
	route     route
	listening route
	counted   ReadPath
	closed    bool

	// warned is when a full queue was last logged (unix nanoseconds),
	// under dmu.
	warned int64
}

// ReadPath is how a publish connection's media is read (see Ingress).
type ReadPath int

// Read paths.
const (
	// ReadPion: through pion's read path (also before the connection is
	// connected).
	ReadPion ReadPath = iota
	// ReadShared: at a shared UDP socket, by meetd.
	ReadShared
	numReadPaths
)

func (p ReadPath) String() string {
	return [...]string{"pion", "shared_socket"}[p]
}

// newSocketIngress gives in, the Ingress of pc, a path at a's shared
// sockets, when there are any and pion's internals are as expected.
func (a *API) newSocketIngress(pc *webrtc.PeerConnection, in *Ingress) *socketIngress {
	if a.pionReads || !egress.Available() || len(a.sockets.Conns) == 0 {
		return nil
	}
	s := &socketIngress{in: in, conns: a.sockets.Conns, counters: &a.counters, log: a.log}
	s.counters.readPaths[ReadPion].Add(1)
	dt := pc.SCTP().Transport()
	dt.ICETransport().OnSelectedCandidatePairChange(func(p *webrtc.ICECandidatePair) {
		r := routeFor(s.conns, p)
		s.state.Lock()
		s.route = r
		s.update()
		s.state.Unlock()
	})
	dt.OnStateChange(func(st webrtc.DTLSTransportState) {
		// pion calls this holding the transport's lock: only fields are
		// read here, not its methods.
		s.state.Lock()
		defer s.state.Unlock()
		switch st {
		case webrtc.DTLSTransportStateConnected:
			if s.keys == nil {
				s.keys = s.connect(dt)
			}
		case webrtc.DTLSTransportStateClosed, webrtc.DTLSTransportStateFailed:
			s.keys = nil
		}
		s.update()
	})
	return s
}

// connect derives the key that decrypts the publisher's RTP from the
// connection's DTLS connection (internal/egress reads it from pion); nil
// leaves the media to pion.
func (s *socketIngress) connect(dt *webrtc.DTLSTransport) *srtp.Context {
	ctx, err := egress.ReadKeys(dt)
	if err != nil {
		s.log.Warn("SRTP keys not derived: a publisher's media is read through pion", "err", err)
		return nil
	}
	return ctx
}

// route is the shared socket and remote address of a connection's ICE
// pair; a nil conn when it is not on a shared socket.
type route struct {
	conn *udpbatch.Conn
	addr netip.AddrPort
}

// routeFor is the route of pair p on conns.
func routeFor(conns []*udpbatch.Conn, p *webrtc.ICECandidatePair) route {
	c, addr := egress.Route(conns, p)
	return route{conn: c, addr: addr}
}

// update makes path from keys and route, and listens at the route's
// socket. state must be held.
func (s *socketIngress) update() {
	var want route
	if s.keys != nil && !s.closed {
		want = s.route
	}
	if want.conn == nil {
		s.path.Store(nil)
	} else {
		s.path.Store(s.keys)
	}
	if want != s.listening {
		if s.listening.conn != nil {
			s.listening.conn.UnlistenMedia(s.listening.addr, s)
		}
		if want.conn != nil {
			want.conn.ListenMedia(want.addr, s)
		}
		s.listening = want
	}
	now := ReadPion
	if want.conn != nil {
		now = ReadShared
	}
	if now != s.counted {
		s.counters.readPaths[s.counted].Add(-1)
		s.counters.readPaths[now].Add(1)
		s.counted = now
	}
}

// close stops the path for good, as the connection closes.
func (s *socketIngress) close() {
	s.state.Lock()
	defer s.state.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.update()
	s.counters.readPaths[s.counted].Add(-1)
}

const rtpHeaderSize = 12

// ReceiveRTP (udpbatch.MediaListener) decrypts pkt, an SRTP packet from the publisher, and queues it
// for the layer that took its stream. It is false when pion must take the
// packet: no layer took the stream, the path is not up, the queue is full,
// or the packet does not decrypt (pion then decides what it is).
func (s *socketIngress) ReceiveRTP(pkt []byte) bool {
	ctx := s.path.Load()
	if ctx == nil {
		return false
	}
	st := (*s.in.streams.Load())[binary.BigEndian.Uint32(pkt[8:12])]
	if st == nil {
		return false
	}
	q := st.queue.Load()
	if q == nil {
		if !s.in.takeRTX(st) {
			return false
		}
		q = st.queue.Load()
	}
	if q == nil || len(pkt) > maxPacketSize+egress.MaxOverhead {
		return false
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	slot := q.reserve()
	if slot == nil {
		s.queueFull(st)
		return false
	}
	plain, err := ctx.DecryptRTP(slot.buf[:0], pkt, &s.hdr)
	if err != nil {
		q.unreserve(slot)
		s.log.Debug("publisher's RTP not decrypted at the socket", "err", err)
		return false
	}
	slot.n, slot.stream = len(plain), st
	q.commit(slot)
	s.counters.readAtSocket.Add(1)
	return true
}

// queueFull counts a packet of st that pion takes because its layer's
// queue is full (its goroutine fell behind, or closed), and says so at
// most once a second. dmu must be held.
func (s *socketIngress) queueFull(st *ingressStream) {
	s.counters.readQueueFull.Add(1)
	now := time.Now().UnixNano()
	if now-s.warned < int64(time.Second) {
		return
	}
	s.warned = now
	s.log.Warn("a publisher's layer falls behind: its packets go through pion", "ssrc", st.info.SSRC)
}

// unwrapRTX turns an RTX packet (RFC 4588), decrypted in b, into the
// packet it repairs, in place, as pion does with the RTX it reads: the
// original sequence number moves from the payload into the header, and
// the SSRC and payload type become the layer's. It returns nil for a
// packet without one (padding, for bandwidth probing) or a malformed one.
func unwrapRTX(b []byte, ssrc uint32, pt uint8) []byte {
	if len(b) < rtpHeaderSize {
		return nil
	}
	hn := rtpHeaderSize + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < hn+4 {
			return nil
		}
		hn += 4 + 4*int(binary.BigEndian.Uint16(b[hn+2:hn+4]))
	}
	pad := 0
	if b[0]&0x20 != 0 && len(b) > 0 {
		pad = int(b[len(b)-1])
	}
	if len(b)-hn-pad < 2 {
		return nil
	}
	b[1] = b[1]&0x80 | pt&0x7f
	b[2], b[3] = b[hn], b[hn+1]
	binary.BigEndian.PutUint32(b[8:12], ssrc)
	copy(b[hn:], b[hn+2:])
	return b[:len(b)-2]
}

// inQueueLen bounds the packets one layer may have waiting at the socket:
// a frame's burst fits. When it is full, packets go to pion, whose
// buffers are larger.
const inQueueLen = 64

// inQueue holds a layer's packets read at the socket until its goroutine
// forwards them: the socket's reader decrypts each into a slot, and the
// goroutine forwards from the slot, so that a packet is not copied again.
// Slots come back to a free list: a layer's goroutine mostly keeps up, so
// a few are made, not one per place in the queue.
type inQueue struct {
	// mu guards the fields below; the slots between head and tail are the
	// goroutine's, reserved ones the reader's.
	mu         sync.Mutex
	ring       [inQueueLen]*inSlot
	head, tail uint32
	free       []*inSlot
	closed     bool
	// wake tells the goroutine that packets came or the queue closed.
	wake chan struct{}
}

type inSlot struct {
	buf    [maxPacketSize + egress.MaxOverhead]byte
	n      int
	stream *ingressStream
}

func newInQueue() *inQueue { return &inQueue{wake: make(chan struct{}, 1)} }

// reserve is a slot for the next packet, nil when the queue is full or
// closed. The caller gives it back with commit or unreserve.
func (q *inQueue) reserve() *inSlot {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.tail-q.head == inQueueLen {
		return nil
	}
	if n := len(q.free); n > 0 {
		s := q.free[n-1]
		q.free = q.free[:n-1]
		return s
	}
	return new(inSlot)
}

// unreserve gives back a slot reserve gave and no packet went into.
func (q *inQueue) unreserve(s *inSlot) {
	q.mu.Lock()
	q.free = append(q.free, s)
	q.mu.Unlock()
}

// commit queues s, a slot reserve gave. Only one reader at a time
// commits (socketIngress.dmu): reserve made room for it.
func (q *inQueue) commit(s *inSlot) {
	q.mu.Lock()
	q.ring[q.tail%inQueueLen] = s
	q.tail++
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// next waits for the first packet queued and returns its slot, which
// stays the caller's until done; nil once the queue is closed and empty.
func (q *inQueue) next() *inSlot {
	q.mu.Lock()
	for q.head == q.tail && !q.closed {
		q.mu.Unlock()
		<-q.wake
		q.mu.Lock()
	}
	var s *inSlot
	if q.head != q.tail {
		s = q.ring[q.head%inQueueLen]
	}
	q.mu.Unlock()
	return s
}

// done takes the slot next returned off the queue, for reuse.
func (q *inQueue) done() {
	q.mu.Lock()
	i := q.head % inQueueLen
	q.free = append(q.free, q.ring[i])
	q.ring[i] = nil
	q.head++
	q.mu.Unlock()
}

// close ends the queue: next returns nil once it is empty.
func (q *inQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
