package sfu

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

// batchConn is a UDP socket shared by every peer connection (the socket
// of pion's UDP mux) that sends the datagrams of one fan-out with one
// sendmmsg system call instead of one sendto each.
//
// A track's read loop opens a batch (begin) before writing a packet to
// each of its subscribers and closes it (end) after. While any batch is
// open, WriteTo copies the datagram into a queue and returns; end sends
// the queue, as does a write that fills it. Nothing waits for a timer: a
// datagram waits at most until the fan-out it was written during ends.
// Writes while no batch is open (ICE, DTLS, RTCP) go straight out, after
// whatever is queued.
//
// Only WriteTo and WriteToAddrPort, what pion's mux writes with, batch;
// the embedded connection's other write methods send at once.
type batchConn struct {
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
	// rmu guards recv and fb: the mux has one reader, but nothing says
	// so.
	rmu  sync.Mutex
	recv recvSys
	fb   feedbackBuf
	// lmu guards listeners, the subscribe connections whose RTCP the
	// reader handles, by remote address (see feedback.go), and changes
	// to media.
	lmu       sync.Mutex
	listeners map[netip.AddrPort]*Egress
	// media are the publish connections whose RTP the reader decrypts,
	// by remote address (see ingress_socket.go): copy-on-write, as it is
	// read for every datagram.
	media atomic.Pointer[map[netip.AddrPort]*socketIngress]
	// warned is when a failed send was last logged (unix nanoseconds).
	warned int64
	// failedSinceLog counts datagrams not sent since the last log.
	failedSinceLog int

	// sent and failed count datagrams sent and lost by batches, and
	// batches the number of sendmmsg calls.
	sent, failed, batches atomic.Uint64
}

// slot holds one queued datagram; its buffer is reused.
type slot struct {
	buf  []byte
	addr netip.AddrPort
}

func newBatchConn(c *net.UDPConn, log *slog.Logger) *batchConn {
	b := &batchConn{UDPConn: c, log: log}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		b.v6 = true
	} else if err := setDontFragment(c); err != nil {
		log.Debug("media socket: cannot set don't-fragment", "local", c.LocalAddr().String(), "err", err)
	}
	for i := range b.slots {
		b.slots[i].buf = make([]byte, 0, maxPacketSize)
	}
	b.sys.init(c)
	b.recv.init(c)
	return b
}

// begin opens a batch: until the matching end, writes are queued.
func (c *batchConn) begin() { c.open.Add(1) }

// end closes a batch and sends what is queued, including what other open
// batches queued: they share this system call.
func (c *batchConn) end() {
	c.open.Add(-1)
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

// WriteTo implements net.PacketConn.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.UDPConn.WriteTo(b, addr)
	}
	return c.write(b, ua.AddrPort())
}

// WriteToAddrPort is the allocation-free write pion's mux uses when the
// connection has it (ice.AddrPortReaderWriter).
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.write(b, addr)
}

// ReadFromAddrPort is the allocation-free read of ice.AddrPortReaderWriter,
// which pion's mux reads every datagram with (see recvSys). It returns
// every datagram but the subscribers' RTCP and publishers' RTP that it
// handles itself.
func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		n, addr, err := c.recv.read(b)
		if err != nil || !c.handleRTCP(b[:n], addr) && !c.handleMedia(b[:n], addr) {
			return n, addr, err
		}
	}
}

func (c *batchConn) write(b []byte, addr netip.AddrPort) (int, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	ip := addr.Addr()
	c.mu.Lock()
	if ip.Is4() == c.v6 || ip.Zone() != "" {
		// Not for sendmmsg: the socket's own write says why.
		c.flushLocked()
		c.mu.Unlock()
		return c.WriteToUDPAddrPort(b, addr)
	}
	if c.open.Load() == 0 || len(b) > maxPacketSize {
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
func (c *batchConn) flushLocked() {
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
		if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
			lost = len(queue)
		}
		queue = queue[lost:]
		c.noteFailed(lost, err)
	}
	c.n = 0
}

// noteFailed counts datagrams that could not be sent and logs it, at most
// once a second and not once the socket is closed (meetd is stopping).
// mu must be held.
func (c *batchConn) noteFailed(lost int, err error) {
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
func (c *batchConn) Close() error {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
	return c.UDPConn.Close()
}

// batchNet is the network pion's UDP mux listens with: it opens batching
// sockets and keeps them, so that fan-outs can open batches on them.
type batchNet struct {
	*stdnet.Net
	log *slog.Logger
	// conns is appended to while the mux is built, and read only after.
	conns []*batchConn
}

// ListenUDP implements transport.Net.
func (n *batchNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	b := newBatchConn(c, n.log)
	n.conns = append(n.conns, b)
	return b, nil
}

// sendBatch is every batching socket of an API. Empty or nil (no shared
// sockets), it does nothing.
type sendBatch struct {
	conns []*batchConn
}

// begin opens a batch on every socket.
func (s *sendBatch) begin() {
	if s == nil {
		return
	}
	for _, c := range s.conns {
		c.begin()
	}
}

// end closes the batch begin opened, sending what it queued.
func (s *sendBatch) end() {
	if s == nil {
		return
	}
	for _, c := range s.conns {
		c.end()
	}
}

// BatchStats counts what the shared media sockets sent in batches.
type BatchStats struct {
	// Datagrams sent and lost (refused by the kernel), and sendmmsg calls.
	Sent, Failed, Batches uint64
}

func (s *sendBatch) stats() BatchStats {
	var st BatchStats
	if s == nil {
		return st
	}
	for _, c := range s.conns {
		st.Sent += c.sent.Load()
		st.Failed += c.failed.Load()
		st.Batches += c.batches.Load()
	}
	return st
}
