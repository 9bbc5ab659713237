package udpbatch

import (
	"net/netip"
)

// Queue is one goroutine's own batch of datagrams on the shared sockets.
// The batch a Conn keeps is shared: its lock is held while it is sent, so
// the goroutines that write to one socket take turns, and one core sends
// it all. A shard of a large fan-out (internal/sfu) queues what it writes
// in a Queue of its own instead, and sends it with sendmmsg calls of its
// own on the same sockets, in parallel with the other shards: the kernel
// takes datagrams of one UDP socket from several threads at once, and a
// Queue's calls take neither the Conn's lock nor the socket's write lock
// (batchSys.writeShared).
//
// A Queue is not safe for concurrent use. A datagram waits in it at most
// until Flush, which its owner calls at the end of each fan-out.
type Queue struct {
	conns []*connQueue
}

// connQueue is a Queue's datagrams for one socket.
type connQueue struct {
	c     *Conn
	n     int
	slots [maxBatch]slot
	sys   batchSys
}

// NewQueue makes an empty Queue.
func NewQueue() *Queue { return &Queue{} }

// Send queues b for addr on c, and sends the queue of c when it is full.
// A datagram that c's batches do not take (the other address family, too
// large) goes out through c at once.
func (q *Queue) Send(c *Conn, b []byte, addr netip.AddrPort) (int, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if ip := addr.Addr(); ip.Is4() == c.v6 || ip.Zone() != "" || len(b) > MaxDatagram {
		return c.write(b, addr, false)
	}
	cq := q.of(c)
	s := &cq.slots[cq.n]
	s.buf = append(s.buf[:0], b...)
	s.addr = addr
	cq.n++
	if cq.n == maxBatch {
		cq.flush()
	}
	return len(b), nil
}

// of is q's queue for c, made on first use.
func (q *Queue) of(c *Conn) *connQueue {
	for _, cq := range q.conns {
		if cq.c == c {
			return cq
		}
	}
	cq := &connQueue{c: c}
	for i := range cq.slots {
		cq.slots[i].buf = make([]byte, 0, MaxDatagram)
	}
	cq.sys.init(c.UDPConn)
	cq.sys.poll = true
	q.conns = append(q.conns, cq)
	return cq
}

// Flush sends what q holds.
func (q *Queue) Flush() {
	for _, cq := range q.conns {
		if cq.n > 0 {
			cq.flush()
		}
	}
}

// flush sends the queue as Conn.flushLocked does, and counts it on the
// socket.
func (cq *connQueue) flush() {
	c := cq.c
	queue := cq.slots[:cq.n]
	total := uint64(len(queue))
	for len(queue) > 0 {
		n, err := cq.sys.send(queue)
		c.batches.Add(1)
		c.sent.Add(uint64(n))
		queue = queue[n:]
		if err == nil || len(queue) == 0 {
			continue
		}
		lost := 1
		if isFinal(err) {
			lost = len(queue)
		}
		queue = queue[lost:]
		c.mu.Lock()
		c.noteFailed(lost, err)
		c.mu.Unlock()
	}
	c.fromQueues.Add(total)
	cq.n = 0
}
