package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync/atomic"
	"unsafe"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"golang.org/x/sys/unix"
)

// The latency the tool reports is from the send stamp in a packet's
// payload to the moment the packet reached the subscriber's socket: the
// kernel's receive timestamp (SO_TIMESTAMPNS), which on loopback is taken
// as meetd's send hands the datagram over. What happens after that is the
// tool's own work: 200 subscribers' pion stacks (ICE, DTLS, SRTP,
// interceptors) share one core, and a fan-out's burst waits in their
// queues for milliseconds. That is measured too, at the subscriber's
// read of the track (read_p50_ms and so on), and reported beside it.
//
// SRTP leaves the RTP header in the clear, so the socket's reader notes
// each packet's arrival by SSRC and sequence number, and the track's
// reader, which sees the same header once pion has decrypted the packet,
// looks it up.

// arrivals maps RTP packets, by SSRC and sequence number, to the time
// (nowNanos) they reached a subscriber's socket. It is a table of fixed
// size written and read without locks: a packet whose slot a later one
// took before its reader came is not found, and counted as unstamped.
// meetd gives every down track an SSRC of its own, so SSRCs do not clash
// across subscribers.
type arrivals struct {
	slots [1 << arrivalBits]arrivalSlot
}

const arrivalBits = 20

type arrivalSlot struct {
	// key is 0 while the slot is being written.
	key atomic.Uint64
	at  atomic.Int64
}

func arrivalKey(ssrc uint32, seq uint16) uint64 {
	return 1<<63 | uint64(ssrc)<<16 | uint64(seq)
}

func (a *arrivals) slot(key uint64) *arrivalSlot {
	return &a.slots[(key*0x9e3779b97f4a7c15)>>(64-arrivalBits)]
}

// put notes that the packet (ssrc, seq) arrived at at.
func (a *arrivals) put(ssrc uint32, seq uint16, at int64) {
	k := arrivalKey(ssrc, seq)
	s := a.slot(k)
	s.key.Store(0)
	s.at.Store(at)
	s.key.Store(k)
}

// get is when the packet (ssrc, seq) arrived; false if that was not
// noted or has been overwritten.
func (a *arrivals) get(ssrc uint32, seq uint16) (int64, bool) {
	k := arrivalKey(ssrc, seq)
	s := a.slot(k)
	if s.key.Load() != k {
		return 0, false
	}
	at := s.at.Load()
	if s.key.Load() != k {
		return 0, false
	}
	return at, true
}

// arrivalNet is the network the load clients' ICE listens with: the
// host's, with sockets that note when RTP arrives.
type arrivalNet struct {
	*stdnet.Net
	arr *arrivals
}

func newArrivalNet(arr *arrivals) (*arrivalNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &arrivalNet{Net: n, arr: arr}, nil
}

// ListenUDP implements transport.Net.
func (n *arrivalNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	raw, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		serr = err
	}
	if serr != nil {
		c.Close()
		return nil, serr
	}
	return &stampConn{UDPConn: c, arr: n.arr}, nil
}

// stampConn is a client's UDP socket that notes the kernel's receive time
// of every RTP packet it reads. pion reads with ReadFromAddrPort, and
// writes with WriteToAddrPort, which the embedded connection has.
type stampConn struct {
	*net.UDPConn
	arr *arrivals
	// oob is the control message buffer; pion's candidate has one reader.
	oob [64]byte
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter.
func (c *stampConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, oobn, _, addr, err := c.UDPConn.ReadMsgUDPAddrPort(b, c.oob[:])
	if err == nil {
		c.note(b[:n], c.oob[:oobn])
	}
	return n, addr, err
}

// ReadFrom implements net.PacketConn.
func (c *stampConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

// note records the arrival of p if it is RTP (RFC 7983's first byte, and
// not an RTCP packet type, RFC 5761) and the kernel stamped it.
func (c *stampConn) note(p, oob []byte) {
	if len(p) < 12 || p[0] < 128 || p[0] > 191 || (p[1] >= 192 && p[1] <= 223) {
		return
	}
	at, ok := kernelStamp(oob)
	if !ok {
		return
	}
	c.arr.put(binary.BigEndian.Uint32(p[8:12]), binary.BigEndian.Uint16(p[2:4]), at)
}

// kernelStamp is the SCM_TIMESTAMPNS control message in oob as nowNanos.
func kernelStamp(oob []byte) (int64, bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && l >= unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
			return ts.Sec*1e9 + ts.Nsec - epoch, true
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0, false
}
