// Package udpbatch is the UDP sockets all media shares: the datagrams of
// one fan-out leave in one sendmmsg, reads and sends make their system
// calls directly, and the subscriber RTCP a listener claims is handed to
// it where the socket is read. pion's ICE mux reads and writes through
// these sockets like any other; meetd's egress writes with Send.
package udpbatch

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// maxBatch is the most datagrams one sendmmsg carries: a fan-out to more
// subscribers sends a full batch whenever one fills.
const maxBatch = 64

// MaxDatagram is the largest datagram a batch queues; a larger one goes
// out at once.
const MaxDatagram = 1500

// Conn is a UDP socket shared by every peer connection (the socket of
// pion's UDP mux) that sends the datagrams of one fan-out with one
// sendmmsg system call instead of one sendto each.
//
// A track's read loop opens a batch (Sockets.Begin) before writing a
// packet to each of its subscribers and closes it (End) after. While any
// batch is open, a write copies the datagram into a queue and returns;
// End sends the queue, as does a write that fills it. Nothing waits for a
// timer: a datagram waits at most until the fan-out it was written during
// ends. Writes while no batch is open (ICE, DTLS, RTCP) go straight out,
// after whatever is queued.
//
// Only Send, WriteTo and WriteToAddrPort, what meetd's egress and pion's
// mux write with, batch; the embedded connection's other write methods
// send at once.
type Conn struct {
	*net.UDPConn
	// v6 is whether the socket is IPv6: IPv4 destinations then go out
	// one by one, since sendmmsg takes them only on an IPv4 socket.
	v6  bool
	log *slog.Logger

	// open counts the batches open: while above zero, writes queue.
	open atomic.Int32

	// mu guards the queue and sys; it is held while the queue is sent, so
	// that datagrams leave in the order they were written.
	mu    sync.Mutex
	n     int // datagrams queued
	slots [maxBatch]slot
	sys   batchSys
	// rmu guards recv and scratch: the mux has one reader, but nothing
	// says so.
	rmu     sync.Mutex
	recv    recvSys
	scratch Scratch
	// lmu guards listeners, the subscribe connections whose RTCP the
	// reader hands them, by remote address (see listen.go); listening
	// counts them, so that pion's writes skip the lock while there are
	// none.
	lmu       sync.Mutex
	listeners map[netip.AddrPort]Listener
	listening atomic.Int32
	// media are the publish connections whose RTP the reader decrypts,
	// by remote address (see media.go): copy-on-write, as it is read for
	// every datagram.
	media atomic.Pointer[map[netip.AddrPort]MediaListener]
	// warned is when a failed send was last logged (unix nanoseconds).
	warned int64
	// failedSinceLog counts datagrams not sent since the last log.
	failedSinceLog int

	// sent and failed count datagrams sent and lost by batches, and
	// batches the number of sendmmsg calls.
	sent, failed, batches atomic.Uint64
	// fromEgress counts the datagrams meetd's egress wrote (Send), and
	// pionRTP the RTP and RTCP datagrams pion wrote; mu guards both.
	fromEgress, pionRTP uint64
	// fromQueues counts the datagrams meetd's egress wrote through
	// Queues, which do not take mu.
	fromQueues atomic.Uint64
	// pionMedia counts RTP and RTCP pion wrote to a listener's address
	// (see notePion); warnedPion is set once that was logged.
	pionMedia  atomic.Uint64
	warnedPion atomic.Bool
}

// slot holds one queued datagram; its buffer is reused.
type slot struct {
	buf  []byte
	addr netip.AddrPort
}

// NewConn makes c a batching socket; log tells of datagrams the kernel
// refuses.
func NewConn(c *net.UDPConn, log *slog.Logger) *Conn {
	b := &Conn{UDPConn: c, log: log}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		b.v6 = true
	} else if err := setDontFragment(c); err != nil {
		log.Debug("media socket: cannot set don't-fragment", "local", c.LocalAddr().String(), "err", err)
	}
	for i := range b.slots {
		b.slots[i].buf = make([]byte, 0, MaxDatagram)
	}
	b.sys.init(c)
	b.recv.init(c)
	return b
}

// IPv6 reports whether the socket is IPv6: it sends to IPv4 addresses
// one by one.
func (c *Conn) IPv6() bool { return c.v6 }

// begin opens a batch: until the matching end, writes are queued.
func (c *Conn) begin() { c.open.Add(1) }

// end closes a batch and sends what is queued, including what other open
// batches queued: they share this system call.
func (c *Conn) end() {
	c.open.Add(-1)
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

// Send writes b to addr, queued while a batch is open: meetd's egress
// writes with it.
func (c *Conn) Send(b []byte, addr netip.AddrPort) (int, error) {
	return c.write(b, addr, false)
}

// WriteTo implements net.PacketConn: pion's mux writes with it.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.UDPConn.WriteTo(b, addr)
	}
	c.notePion(b, ua.AddrPort())
	return c.write(b, ua.AddrPort(), true)
}

// WriteToAddrPort is the allocation-free write pion's mux uses when the
// connection has it (ice.AddrPortReaderWriter).
func (c *Conn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	c.notePion(b, addr)
	return c.write(b, addr, true)
}

// ReadFromAddrPort is the allocation-free read of ice.AddrPortReaderWriter,
// which pion's mux reads every datagram with (see recvSys). It returns
// every datagram but the RTCP a listener takes (see Listen) and the RTP
// a media listener takes (see ListenMedia).
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		n, addr, err := c.recv.read(b)
		if err != nil || !c.handleRTCP(b[:n], addr) && !c.handleMedia(b[:n], addr) {
			return n, addr, err
		}
	}
}

// write sends or queues b for addr; pion is set for pion's writes.
func (c *Conn) write(b []byte, addr netip.AddrPort, pion bool) (int, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	ip := addr.Addr()
	c.mu.Lock()
	if !pion {
		c.fromEgress++
	} else if isRTPOrRTCP(b) {
		c.pionRTP++
	}
	if ip.Is4() == c.v6 || ip.Zone() != "" {
		// Not for sendmmsg: the socket's own write says why.
		c.flushLocked()
		c.mu.Unlock()
		return c.WriteToUDPAddrPort(b, addr)
	}
	if c.open.Load() == 0 || len(b) > MaxDatagram {
		// Straight out, after what is queued. Holding mu keeps the
		// order: a datagram this goroutine queued earlier may be on its
		// way in another goroutine's flush, which holds mu.
		c.flushLocked()
		n, err := c.sys.sendOne(b, addr)
		c.mu.Unlock()
		return n, err
	}
	s := &c.slots[c.n]
	s.buf = append(s.buf[:0], b...)
	s.addr = addr
	c.n++
	if c.n == maxBatch {
		c.flushLocked()
	}
	c.mu.Unlock()
	return len(b), nil
}

// flushLocked sends the queue. A datagram the kernel refuses is counted
// and logged, and the rest are sent after it. mu must be held.
func (c *Conn) flushLocked() {
	queue := c.slots[:c.n]
	for len(queue) > 0 {
		n, err := c.sys.send(queue)
		c.batches.Add(1)
		c.sent.Add(uint64(n))
		queue = queue[n:]
		if err == nil || len(queue) == 0 {
			continue
		}
		// sendmmsg fails only for its first datagram: skip it, unless
		// the socket is gone, and then everything is, or its buffer
		// stayed full (see maxFullWait): the rest would wait as long.
		lost := 1
		if isFinal(err) {
			lost = len(queue)
		}
		queue = queue[lost:]
		c.noteFailed(lost, err)
	}
	c.n = 0
}

// isFinal reports whether err, of a datagram a batch could not send,
// holds for the rest of the batch too.
func isFinal(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

// noteFailed counts datagrams that could not be sent and logs it, at most
// once a second and not once the socket is closed (meetd is stopping).
// mu must be held.
func (c *Conn) noteFailed(lost int, err error) {
	c.failed.Add(uint64(lost))
	c.failedSinceLog += lost
	now := time.Now().UnixNano()
	if now-c.warned < int64(time.Second) || errors.Is(err, net.ErrClosed) {
		return
	}
	c.log.Warn("media datagrams not sent", "local", c.LocalAddr().String(), "count", c.failedSinceLog, "err", err)
	c.warned, c.failedSinceLog = now, 0
}

// Close sends what is queued and closes the socket.
func (c *Conn) Close() error {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
	return c.UDPConn.Close()
}

// Net is the network pion's UDP mux listens with: it opens batching
// sockets and keeps them, so that fan-outs can open batches on them.
type Net struct {
	*stdnet.Net
	Log *slog.Logger
	// Sockets is appended to while the mux is built, and read only after.
	Sockets Sockets
}

// ListenUDP implements transport.Net.
func (n *Net) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	b := NewConn(c, n.Log)
	n.Sockets.Conns = append(n.Sockets.Conns, b)
	return b, nil
}

// Sockets are every batching socket of a server. Empty or nil (no shared
// sockets), they do nothing.
type Sockets struct {
	Conns []*Conn
}

// Begin opens a batch on every socket.
func (s *Sockets) Begin() {
	if s == nil {
		return
	}
	for _, c := range s.Conns {
		c.begin()
	}
}

// End closes the batch Begin opened, sending what it queued.
func (s *Sockets) End() {
	if s == nil {
		return
	}
	for _, c := range s.Conns {
		c.end()
	}
}

// Stats counts what the shared media sockets sent in batches.
type Stats struct {
	// Datagrams sent and lost (refused by the kernel), and sendmmsg calls.
	Sent, Failed, Batches uint64
	// FromEgress counts the datagrams meetd's egress wrote, and PionRTP
	// the RTP and RTCP datagrams pion wrote (its write path, and its
	// RTCP to publishers).
	FromEgress, PionRTP uint64
	// PionMedia counts RTP and RTCP datagrams pion wrote to a subscriber
	// whose media meetd's egress sends: never, while pion keeps the rule
	// the egress depends on (see internal/sfu/api.go).
	PionMedia uint64
}

// Stats reads the sockets' counts.
func (s *Sockets) Stats() Stats {
	var st Stats
	if s == nil {
		return st
	}
	for _, c := range s.Conns {
		st.Sent += c.sent.Load()
		st.Failed += c.failed.Load()
		st.Batches += c.batches.Load()
		st.PionMedia += c.pionMedia.Load()
		c.mu.Lock()
		st.FromEgress += c.fromEgress + c.fromQueues.Load()
		st.PionRTP += c.pionRTP
		c.mu.Unlock()
	}
	return st
}
