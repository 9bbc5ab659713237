package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The floor and the limits send as meetd's shared media sockets do
// (internal/sfu/batchconn_linux.go): an IPv4 UDP socket with don't-fragment
// set, system calls made directly (RawSyscall, so the runtime does no
// bookkeeping around them), to loopback sockets that receive and drain
// what arrives, as the subscribers' do. The socket is the tool's own and
// blocking: the one thread that sends on it does nothing else.

// sendBatch is the most datagrams one sendmmsg carries, as in meetd
// (maxBatch): a fan-out to more destinations sends a full batch whenever
// one fills.
const sendBatch = 64

// maxDatagram is the largest datagram the floor sends: an RTP packet of
// up to 1500 bytes and its tag.
const maxDatagram = 1500 + srtpTagSize

// mmsghdr is struct mmsghdr of sendmmsg(2); Go pads it as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// udpSender is a sending socket and the message vectors of one batch.
type udpSender struct {
	fd   int
	hdrs [sendBatch]mmsghdr
	iovs [sendBatch]unix.Iovec
	// gso is the control message of a UDP_SEGMENT send.
	gso [unix.SizeofCmsghdr + 8]byte
}

func newUDPSender() (*udpSender, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	s := &udpSender{fd: fd}
	err = errors.Join(
		unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}),
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20),
	)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("sending socket: %w", err)
	}
	for i := range s.hdrs {
		h := &s.hdrs[i].hdr
		h.Iov = &s.iovs[i]
		h.SetIovlen(1)
		h.Namelen = unix.SizeofSockaddrInet4
	}
	return s, nil
}

func (s *udpSender) close() { unix.Close(s.fd) }

// setMsg makes b, to to, message i of the next batch. b and to must stay
// as they are until the batch is sent.
func (s *udpSender) setMsg(i int, b []byte, to *unix.RawSockaddrInet4) {
	s.iovs[i].Base = unsafe.SliceData(b)
	s.iovs[i].SetLen(len(b))
	s.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(to))
}

// sendmmsg sends messages 0 to n-1 of the batch, with as few calls as
// the kernel takes.
func (s *udpSender) sendmmsg(n int) error {
	for off := 0; off < n; {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.hdrs[off])), uintptr(n-off), 0, 0, 0)
		switch e {
		case 0:
			off += int(r)
		case unix.EINTR:
		default:
			return os.NewSyscallError("sendmmsg", e)
		}
	}
	return nil
}

// sendto sends b to to with one sendto.
func (s *udpSender) sendto(b []byte, to *unix.RawSockaddrInet4) error {
	for {
		_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0,
			uintptr(unsafe.Pointer(to)), unix.SizeofSockaddrInet4)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
		default:
			return os.NewSyscallError("sendto", e)
		}
	}
}

// sendGSO sends b to to with one sendmsg that the kernel cuts into
// datagrams of segment bytes (UDP_SEGMENT): UDP generic segmentation
// offload, which sends several datagrams to one address for the price of
// one pass through the stack.
func (s *udpSender) sendGSO(b []byte, segment int, to *unix.RawSockaddrInet4) error {
	cm := (*unix.Cmsghdr)(unsafe.Pointer(&s.gso[0]))
	cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	cm.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&s.gso[unix.CmsgLen(0)])) = uint16(segment)
	var iov unix.Iovec
	iov.Base = unsafe.SliceData(b)
	iov.SetLen(len(b))
	var msg unix.Msghdr
	msg.Name = (*byte)(unsafe.Pointer(to))
	msg.Namelen = unix.SizeofSockaddrInet4
	msg.Iov = &iov
	msg.SetIovlen(1)
	msg.Control = &s.gso[0]
	msg.SetControllen(unix.CmsgSpace(2))
	for {
		_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&msg)), 0)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
		default:
			return os.NewSyscallError("sendmsg UDP_SEGMENT", e)
		}
	}
}

// sinks are loopback UDP sockets that receive and drain what is sent to
// them, each read by a goroutine of its own, as a subscriber's socket is
// read by its pion client. On loopback the kernel delivers a datagram
// into its socket and wakes the reader in the sender's system call, so the
// sender pays for a real receiver.
type sinks struct {
	conns []*net.UDPConn
	addrs []unix.RawSockaddrInet4
	got   atomic.Int64
	wg    sync.WaitGroup
}

// sinkBuffer is each sink's receive buffer: room for a hot loop's round
// (the kernel caps it at net.core.rmem_max).
const sinkBuffer = 1 << 20

func newSinks(n int) (*sinks, error) {
	s := &sinks{}
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			s.close()
			return nil, err
		}
		_ = c.SetReadBuffer(sinkBuffer)
		s.conns = append(s.conns, c)
		s.addrs = append(s.addrs, sockaddr4(c.LocalAddr().(*net.UDPAddr)))
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			buf := make([]byte, 1<<16)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
				s.got.Add(1)
			}
		}()
	}
	return s, nil
}

// waitFor waits until the sinks have received n datagrams in all, or
// timeout passed, and returns how many they have.
func (s *sinks) waitFor(n int64, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	for {
		got := s.got.Load()
		if got >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *sinks) close() {
	for _, c := range s.conns {
		c.Close()
	}
	s.wg.Wait()
}

// sockaddr4 is a's struct sockaddr_in.
func sockaddr4(a *net.UDPAddr) unix.RawSockaddrInet4 {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET}
	copy(sa.Addr[:], a.IP.To4())
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port[0], port[1] = byte(a.Port>>8), byte(a.Port)
	return sa
}
