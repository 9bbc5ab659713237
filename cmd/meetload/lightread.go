package main

import (
	"encoding/binary"
	"errors"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pion/rtp"
	"github.com/pion/stun/v4"
	"golang.org/x/sys/unix"
)

// lightReaders read the sockets of every light viewer of a run: each
// reader goroutine waits on an epoll set of its share of the sockets,
// reads every socket that has datagrams with recvmmsg until it is empty,
// then sleeps for poll, so that datagrams gather and each wake-up reads
// many (a wake-up per datagram would cost meetd, whose send wakes the
// reader on loopback, as much as the tool).
type lightReaders struct {
	readers []*lightReader
	next    atomic.Uint32
	wg      sync.WaitGroup
	closed  atomic.Bool
}

// lightReader is one reader goroutine and its sockets.
type lightReader struct {
	epfd int
	poll time.Duration
	// byFD are the viewers by socket; registered while the reader runs.
	mu   sync.Mutex
	byFD map[int32]*lightViewer
	// The reader's buffers and recvmmsg's vectors.
	bufs  [lightBatch][1500]byte
	iovs  [lightBatch]unix.Iovec
	hdrs  [lightBatch]mmsghdr
	names [lightBatch]unix.RawSockaddrInet4
	plain [1500]byte
	hdr   rtp.Header
}

// lightBatch is the most datagrams one recvmmsg reads.
const lightBatch = 32

func newLightReaders(n int, poll time.Duration) (*lightReaders, error) {
	rs := &lightReaders{}
	for range n {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			rs.close()
			return nil, err
		}
		rd := &lightReader{epfd: epfd, poll: poll, byFD: map[int32]*lightViewer{}}
		for i := range rd.hdrs {
			rd.iovs[i].Base = &rd.bufs[i][0]
			rd.iovs[i].SetLen(len(rd.bufs[i]))
			h := &rd.hdrs[i].hdr
			h.Iov = &rd.iovs[i]
			h.SetIovlen(1)
			h.Name = (*byte)(unsafe.Pointer(&rd.names[i]))
		}
		rs.readers = append(rs.readers, rd)
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			rd.run(&rs.closed)
		}()
	}
	return rs, nil
}

// add gives v's socket to a reader, in turn.
func (rs *lightReaders) add(v *lightViewer) {
	rd := rs.readers[int(rs.next.Add(1))%len(rs.readers)]
	rd.mu.Lock()
	rd.byFD[int32(v.fd)] = v
	rd.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(v.fd)}
	if err := unix.EpollCtl(rd.epfd, unix.EPOLL_CTL_ADD, v.fd, &ev); err != nil {
		v.undecryptable.Add(1 << 32) // never read: shows as an error of the run
	}
}

// close stops the readers and closes every socket.
func (rs *lightReaders) close() {
	rs.closed.Store(true)
	rs.wg.Wait()
	for _, rd := range rs.readers {
		for fd := range rd.byFD {
			unix.Close(int(fd))
		}
		unix.Close(rd.epfd)
	}
}

// viewers are every light viewer the readers have.
func (rs *lightReaders) viewers() []*lightViewer {
	var vs []*lightViewer
	for _, rd := range rs.readers {
		rd.mu.Lock()
		for _, v := range rd.byFD {
			vs = append(vs, v)
		}
		rd.mu.Unlock()
	}
	return vs
}

func (rd *lightReader) run(closed *atomic.Bool) {
	events := make([]unix.EpollEvent, 512)
	for !closed.Load() {
		n, err := unix.EpollWait(rd.epfd, events, 50)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n > 0 {
			rd.mu.Lock()
			vs := make([]*lightViewer, 0, n)
			for _, ev := range events[:n] {
				if v := rd.byFD[ev.Fd]; v != nil {
					vs = append(vs, v)
				}
			}
			rd.mu.Unlock()
			now := nowNanos()
			for i, v := range vs {
				rd.drain(v, now)
				if i%16 == 15 {
					// A round over thousands of sockets takes milliseconds:
					// let the publisher's pacer, which shares the tool's
					// cores, keep its pace meanwhile.
					runtime.Gosched()
				}
			}
		}
		if n < len(events) {
			time.Sleep(rd.poll)
		}
	}
}

// drain reads v's socket until it is empty.
func (rd *lightReader) drain(v *lightViewer, now int64) {
	for {
		for i := range rd.hdrs {
			rd.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet4
		}
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(v.fd), uintptr(unsafe.Pointer(&rd.hdrs[0])), lightBatch,
			unix.MSG_DONTWAIT, 0, 0)
		if e != 0 {
			return // EAGAIN: empty
		}
		for i := range int(r) {
			rd.datagram(v, rd.bufs[i][:rd.hdrs[i].len], &rd.names[i], now)
		}
		if int(r) < lightBatch {
			return
		}
	}
}

// datagram handles one datagram that came to v: RTP is counted, meetd's
// ICE checks answered; meetd's RTCP (sender reports) is ignored.
func (rd *lightReader) datagram(v *lightViewer, b []byte, from *unix.RawSockaddrInet4, now int64) {
	switch {
	case len(b) >= 20 && b[0] < 2:
		v.answerCheck(b, from)
	case len(b) >= 12 && b[0] >= 128 && b[0] <= 191 && (b[1] < 192 || b[1] > 223):
		rd.rtp(v, b, now)
	}
}

// rtp counts an SRTP packet; one in lightSample is decrypted.
func (rd *lightReader) rtp(v *lightViewer, b []byte, now int64) {
	ssrc := binary.BigEndian.Uint32(b[8:12])
	seq := binary.BigEndian.Uint16(b[2:4])
	var lt *lightTrack
	for i := range v.ntrack {
		if v.tracks[i].ssrc == ssrc {
			lt = &v.tracks[i]
			break
		}
	}
	if lt == nil {
		if v.ntrack == len(v.tracks) {
			return
		}
		lt = &v.tracks[v.ntrack]
		v.ntrack++
		lt.ssrc = ssrc
		lt.ts = v.r.track(b[1]&0x7f == v.videoPT)
	}
	v.packets++
	var sent int64
	stamped := false
	if v.packets%lightSample == 0 {
		plain, err := v.dec.DecryptRTP(rd.plain[:0], b, &rd.hdr)
		if err != nil {
			v.undecryptable.Add(1)
		} else {
			sent, stamped = readStamp(plain[rd.hdr.MarshalSize():])
		}
	}
	v.r.lightPacket(lt.ts, seq, len(b)-v.overhead, now, sent, stamped)
}

// answerCheck answers meetd's ICE connectivity check, as the viewer's
// ICE agent would: meetd's keeps the path up only while they are.
func (v *lightViewer) answerCheck(b []byte, from *unix.RawSockaddrInet4) {
	var req stun.Message
	req.Raw = append([]byte(nil), b...)
	if err := req.Decode(); err != nil || req.Type != stun.BindingRequest {
		return
	}
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&from.Port))[:])
	resp, err := stun.Build(&req, stun.BindingSuccess,
		&stun.XORMappedAddress{IP: net.IP(from.Addr[:]), Port: int(port)},
		stun.NewShortTermIntegrity(v.pwd), stun.Fingerprint)
	if err != nil {
		return
	}
	if unix.Sendto(v.fd, resp.Raw, unix.MSG_DONTWAIT, &unix.SockaddrInet4{Port: int(port), Addr: from.Addr}) == nil {
		v.checks.Add(1)
	}
}

// lightPacket is packet (receiver.go) for a light viewer's datagram:
// sequence number and size from the clear header, and the send stamp only
// of the packets it decrypted. A light viewer reads its socket every few
// milliseconds, so now is when it read, not when the datagram came: its
// latency is that of the read (read_p50_ms and so on).
func (r *receiver) lightPacket(ts *trackState, seq uint16, size int, now, sent int64, stamped bool) {
	measuring := r.w.measuring.Load()
	first := !ts.seq.started
	lost, arrival := ts.seq.next(seq, measuring)
	switch arrival {
	case seqStale:
		return
	case seqLate:
		r.w.lost.Add(^uint64(0))
		r.w.late.Add(1)
		return
	}
	if lost > 0 {
		r.w.lost.Add(uint64(lost))
	}
	if ts.video {
		if first {
			r.firstVideo.CompareAndSwap(0, now)
			r.watchingFrom.CompareAndSwap(math.MaxInt64, now+r.w.settle)
			r.videoTracks.Add(1)
		} else if last := ts.lastArrival.Load(); measuring && now-last > freezeGap {
			switch {
			case r.closed.Load():
			case r.watching(last):
				r.w.freezes.Add(1)
			default:
				r.w.joinFreezes.Add(1)
			}
		}
		ts.lastArrival.Store(now)
	}
	if measuring {
		r.w.packets.Add(1)
		r.w.sizes[min(size, maxRTPSize)].Add(1)
		if stamped && r.watching(now) {
			r.w.readLatency.add(now - sent)
		}
	}
}
