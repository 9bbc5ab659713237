package udpbatch

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSys sends a queue with sendmmsg. It makes the system call itself
// rather than through the runtime's syscall path: the socket does not
// block, and a batch takes long enough (tens of microseconds) that the
// runtime would otherwise hand the goroutine's P to another thread
// during it, switching threads on every batch. Conn.mu guards it.
type batchSys struct {
	c     *net.UDPConn
	raw   syscall.RawConn
	hdrs  [maxBatch]mmsghdr
	iovs  [maxBatch]unix.Iovec
	names [maxBatch]unix.RawSockaddrInet6
	// n is how many messages the call is to send, then how many it sent;
	// errno its error. full is set when the socket's buffer was full and
	// wait is not: the call returned at once.
	n          int
	errno      syscall.Errno
	full, wait bool
	call       func(fd uintptr) bool
	// control is call as RawConn.Control takes it (see writeShared).
	control func(fd uintptr)
	// poll makes a full buffer be waited for by retrying, not with a
	// write deadline: a Queue's sys shares its socket with other
	// goroutines, whose sends a deadline would cut short too.
	poll bool
}

// mmsghdr is struct mmsghdr of sendmmsg(2); Go pads it as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

func (s *batchSys) init(c *net.UDPConn) {
	s.c = c
	s.raw, _ = c.SyscallConn()
	s.call = s.sendmmsg
	s.control = func(fd uintptr) { s.sendmmsg(fd) }
	for i := range s.hdrs {
		h := &s.hdrs[i].hdr
		h.Iov = &s.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
	}
}

// maxFullWait is the longest a send waits for room in a shared socket's
// buffer. The buffer is shared by every subscriber and drains at the
// network's pace, never at one subscriber's (the kernel drops what a
// UDP receiver does not read), so a wait is short; it is bounded all the
// same, so that a fan-out never waits long, and what does not fit then is
// dropped, as the network would.
const maxFullWait = 20 * time.Millisecond

// fullRetry is how long a Queue's send sleeps between tries while the
// socket's buffer is full.
const fullRetry = 100 * time.Microsecond

// send sends the datagrams of queue with as few sendmmsg calls as the
// kernel allows, waiting up to maxFullWait while the socket's buffer is
// full. It returns how many were sent; an error is about the first of the
// others (os.ErrDeadlineExceeded: the buffer stayed full).
func (s *batchSys) send(queue []slot) (int, error) {
	if s.raw == nil {
		return 0, net.ErrClosed
	}
	for i := range queue {
		q := &queue[i]
		s.iovs[i].Base = unsafe.SliceData(q.buf)
		s.iovs[i].SetLen(len(q.buf))
		s.hdrs[i].hdr.Namelen = putSockaddr(&s.names[i], q.addr)
	}
	s.n, s.errno = len(queue), 0
	if err := s.write(); err != nil {
		return 0, err
	}
	if s.errno != 0 {
		return 0, os.NewSyscallError("sendmmsg", s.errno)
	}
	return s.n, nil
}

// write makes the call; when the buffer is full, it waits in the poller
// for room, up to maxFullWait. Only then does it set a deadline, which
// costs a timer: a send that fits (nearly all) pays nothing for it.
func (s *batchSys) write() error {
	s.full, s.wait = false, false
	if s.poll {
		return s.writeShared()
	}
	if err := s.raw.Write(s.call); err != nil || !s.full {
		return err
	}
	s.wait = true
	if err := s.c.SetWriteDeadline(time.Now().Add(maxFullWait)); err != nil {
		return err
	}
	err := s.raw.Write(s.call)
	_ = s.c.SetWriteDeadline(time.Time{})
	return err
}

// writeShared makes a Queue's call, retrying while the buffer is full,
// up to maxFullWait. It goes through RawConn.Control, which holds a
// reference to the socket (it is not closed under the call) but not its
// write lock: the shards of a fan-out send on one socket at once, as the
// kernel's UDP send path allows, where Write would make them take turns,
// every hand-over of the lock a goroutine switch.
func (s *batchSys) writeShared() error {
	var deadline time.Time
	for {
		if err := s.raw.Control(s.control); err != nil || !s.full {
			return err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(maxFullWait)
		} else if time.Now().After(deadline) {
			return os.ErrDeadlineExceeded
		}
		time.Sleep(fullRetry)
		s.full = false
	}
}

// sendmmsg is the raw connection's write callback: false asks it to wait
// until the socket can be written.
func (s *batchSys) sendmmsg(fd uintptr) bool {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(s.n), 0, 0, 0)
		switch e {
		case 0:
			s.n = int(r)
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			s.full = true
			return !s.wait
		default:
			s.n, s.errno = 0, e
		}
		return true
	}
}

// sendOne sends one datagram, as a batch of one: through the runtime's
// syscall path, each write outside a batch (RTCP, ICE) would wake its
// monitor thread as reads did (see recvSys). It uses the first message's
// address and vector.
func (s *batchSys) sendOne(b []byte, addr netip.AddrPort) (int, error) {
	if s.raw == nil {
		return 0, net.ErrClosed
	}
	s.iovs[0].Base = unsafe.SliceData(b)
	s.iovs[0].SetLen(len(b))
	s.hdrs[0].hdr.Namelen = putSockaddr(&s.names[0], addr)
	s.n, s.errno = 1, 0
	err := s.write()
	s.iovs[0].Base = nil
	if err != nil {
		return 0, err
	}
	if s.errno != 0 {
		return 0, os.NewSyscallError("sendmmsg", s.errno)
	}
	return len(b), nil
}

// recvSys reads datagrams with recvfrom, made directly as batchSys makes
// sendmmsg. A read that goes through the runtime's syscall path wakes
// the runtime's monitor thread (sysmon) when it sleeps, which then polls
// at a short interval for a while: with a publisher's packet every
// millisecond or so, it would never sleep again (docs/media-path.md).
// Conn.rmu guards it.
type recvSys struct {
	raw  syscall.RawConn
	from unix.RawSockaddrAny
	// The call's buffer, and what it returns.
	buf   []byte
	n     int
	errno syscall.Errno
	call  func(fd uintptr) bool
}

func (r *recvSys) init(c *net.UDPConn) {
	r.raw, _ = c.SyscallConn()
	r.call = r.recvfrom
}

// read reads one datagram into b, waiting in the poller until one comes
// (or the read deadline passes).
func (r *recvSys) read(b []byte) (int, netip.AddrPort, error) {
	if r.raw == nil {
		return 0, netip.AddrPort{}, net.ErrClosed
	}
	r.buf, r.n, r.errno = b, 0, 0
	err := r.raw.Read(r.call)
	r.buf = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if r.errno != 0 {
		return 0, netip.AddrPort{}, os.NewSyscallError("recvfrom", r.errno)
	}
	return r.n, sockaddrAddrPort(&r.from), nil
}

// recvfrom is the raw connection's read callback: false asks it to wait
// until a datagram comes.
func (r *recvSys) recvfrom(fd uintptr) bool {
	var p unsafe.Pointer
	if len(r.buf) > 0 {
		p = unsafe.Pointer(&r.buf[0])
	}
	for {
		size := uint32(unsafe.Sizeof(r.from))
		n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(p), uintptr(len(r.buf)), 0,
			uintptr(unsafe.Pointer(&r.from)), uintptr(unsafe.Pointer(&size)))
		switch e {
		case 0:
			r.n = int(n)
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			r.errno = e
		}
		return true
	}
}

// sockaddrAddrPort is the address and port of a struct sockaddr_in or
// sockaddr_in6; the zero AddrPort for any other.
func sockaddrAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), uint16(port[0])<<8|uint16(port[1]))
	case unix.AF_INET6:
		sa6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		port := (*[2]byte)(unsafe.Pointer(&sa6.Port))
		addr := netip.AddrFrom16(sa6.Addr)
		if sa6.Scope_id != 0 {
			addr = addr.WithZone(strconv.FormatUint(uint64(sa6.Scope_id), 10))
		}
		return netip.AddrPortFrom(addr, uint16(port[0])<<8|uint16(port[1]))
	}
	return netip.AddrPort{}
}

// putSockaddr writes a as a struct sockaddr_in or sockaddr_in6 into sa and
// returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, a netip.AddrPort) uint32 {
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port[0], port[1] = byte(a.Port()>>8), byte(a.Port())
	if a.Addr().Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = a.Addr().As4()
		sa4.Zero = [8]uint8{}
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Flowinfo = 0
	sa.Addr = a.Addr().As16()
	sa.Scope_id = 0
	return unix.SizeofSockaddrInet6
}

// setDontFragment sets DF on what an IPv4 socket sends, ignoring the path
// MTU the kernel learns (IP_PMTUDISC_PROBE). pion sizes RTP and DTLS
// packets to fit a path (about 1200 bytes), so media is never fragmented
// anyway; with DF set the kernel skips choosing an IP ID per datagram
// (__ip_select_ident: a hash and an atomic operation on a shared table).
func setDontFragment(c *net.UDPConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
	}); err != nil {
		return err
	}
	return serr
}
