package udpbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// receivers are n loopback UDP sockets, with room for what a test sends
// before it reads.
func receivers(t testing.TB, n int) []*net.UDPConn {
	t.Helper()
	rs := make([]*net.UDPConn, n)
	for i := range rs {
		r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		_ = r.SetReadBuffer(1 << 20)
		rs[i] = r
	}
	return rs
}

// drained reads and drops what rs receive, each on a goroutine of its own,
// until they are closed; it returns rs.
func drained(rs []*net.UDPConn) []*net.UDPConn {
	for _, r := range rs {
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := r.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
			}
		}()
	}
	return rs
}

func addrPort(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func newTestConn(t testing.TB) *Conn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b := NewConn(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { b.Close() })
	return b
}

// datagram is a payload of size bytes that names its writer and number.
func datagram(writer, seq, size int) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p[0:], uint32(writer))
	binary.BigEndian.PutUint32(p[4:], uint32(seq))
	for i := 8; i < size; i++ {
		p[i] = byte(seq + i)
	}
	return p
}

// readAll reads want datagrams from r, failing after a second of silence.
func readAll(t *testing.T, r *net.UDPConn, want int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 2048)
	for len(got) < want {
		_ = r.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := r.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("got %d of %d datagrams: %v", len(got), want, err)
		}
		got = append(got, append([]byte(nil), buf[:n]...))
	}
	return got
}

func TestBatchConnSendsInOrder(t *testing.T) {
	b := newTestConn(t)
	rs := receivers(t, 3)
	// More than a batch holds, so that a full queue is sent midway, and a
	// partial one at the end; sizes vary, and the socket's address is
	// given both ways pion gives it.
	const n = maxBatch*2 + 5
	b.begin()
	for seq := range n {
		for i, r := range rs {
			p := datagram(i, seq, 100+seq*7%1100)
			var err error
			if seq%2 == 0 {
				_, err = b.WriteToAddrPort(p, addrPort(r))
			} else {
				_, err = b.WriteTo(p, r.LocalAddr())
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	b.end()
	for i, r := range rs {
		got := readAll(t, r, n)
		for seq, p := range got {
			if want := datagram(i, seq, 100+seq*7%1100); string(p) != string(want) {
				t.Fatalf("receiver %d, datagram %d: got %d bytes (writer %d, seq %d), want %d",
					i, seq, len(p), binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:]), len(want))
			}
		}
	}
	st := (&Sockets{Conns: []*Conn{b}}).Stats()
	if st.Sent != 3*n || st.Failed != 0 {
		t.Errorf("stats %+v, want %d sent", st, 3*n)
	}
	if st.Batches > 3*n/maxBatch+2 {
		t.Errorf("%d sendmmsg calls for %d datagrams", st.Batches, 3*n)
	}
}

func TestBatchConnQueuesOnlyInBatch(t *testing.T) {
	b := newTestConn(t)
	r := receivers(t, 1)[0]
	buf := make([]byte, 2048)
	// No batch open: out at once.
	if _, err := b.WriteToAddrPort(datagram(0, 0, 50), addrPort(r)); err != nil {
		t.Fatal(err)
	}
	readAll(t, r, 1)
	b.begin()
	if _, err := b.WriteToAddrPort(datagram(0, 1, 50), addrPort(r)); err != nil {
		t.Fatal(err)
	}
	_ = r.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := r.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatal("a datagram left while its batch was open")
	}
	b.end()
	if p := readAll(t, r, 1)[0]; binary.BigEndian.Uint32(p[4:]) != 1 {
		t.Fatalf("got datagram %d, want 1", binary.BigEndian.Uint32(p[4:]))
	}
	// Too large to queue: sent at once, after what is queued.
	b.begin()
	_, _ = b.WriteToAddrPort(datagram(0, 2, 50), addrPort(r))
	_, _ = b.WriteToAddrPort(datagram(0, 3, MaxDatagram+100), addrPort(r))
	got := readAll(t, r, 2)
	b.end()
	if binary.BigEndian.Uint32(got[0][4:]) != 2 || len(got[1]) != MaxDatagram+100 {
		t.Fatalf("got %d then %d bytes", len(got[0]), len(got[1]))
	}
}

// TestBatchConnConcurrent has several writers batch at once, as the read
// loops of several tracks do: every datagram arrives, each writer's in
// the order written.
func TestBatchConnConcurrent(t *testing.T) {
	b := newTestConn(t)
	const writers, fanout, rounds = 4, 20, 50
	rs := receivers(t, fanout)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for seq := range rounds {
				b.begin()
				for _, r := range rs {
					if _, err := b.WriteToAddrPort(datagram(w, seq, 200), addrPort(r)); err != nil {
						t.Error(err)
					}
				}
				b.end()
			}
		})
	}
	// A writer outside any batch, as ICE and RTCP are.
	wg.Go(func() {
		for seq := range rounds {
			_, _ = b.WriteToAddrPort(datagram(writers, seq, 60), addrPort(rs[0]))
		}
	})
	wg.Wait()
	for i, r := range rs {
		want := writers * rounds
		if i == 0 {
			want += rounds
		}
		next := make([]int, writers+1)
		for _, p := range readAll(t, r, want) {
			w, seq := int(binary.BigEndian.Uint32(p)), int(binary.BigEndian.Uint32(p[4:]))
			if seq != next[w] {
				t.Fatalf("receiver %d: writer %d's datagram %d came after %d", i, w, seq, next[w]-1)
			}
			next[w]++
		}
	}
	if st := (&Sockets{Conns: []*Conn{b}}).Stats(); st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestBatchConnCountsFailures(t *testing.T) {
	b := newTestConn(t)
	r := receivers(t, 1)[0]
	b.begin()
	_, _ = b.WriteToAddrPort(datagram(0, 0, 50), addrPort(r))
	// Port 0 is refused by the kernel; the datagrams after it still go.
	_, _ = b.WriteToAddrPort(datagram(0, 1, 50), netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0))
	_, _ = b.WriteToAddrPort(datagram(0, 2, 50), addrPort(r))
	b.end()
	got := readAll(t, r, 2)
	if binary.BigEndian.Uint32(got[1][4:]) != 2 {
		t.Errorf("second datagram is %d, want 2", binary.BigEndian.Uint32(got[1][4:]))
	}
	if st := (&Sockets{Conns: []*Conn{b}}).Stats(); st.Sent != 2 || st.Failed != 1 {
		t.Errorf("stats %+v, want 2 sent and 1 failed", st)
	}
}

func TestBatchConnAllocatesNothing(t *testing.T) {
	b := newTestConn(t)
	rs := receivers(t, 10)
	p := datagram(0, 0, 1100)
	send := func() {
		b.begin()
		for _, r := range rs {
			_, _ = b.WriteToAddrPort(p, addrPort(r))
		}
		b.end()
	}
	send()
	if n := testing.AllocsPerRun(100, send); n != 0 {
		t.Errorf("a batch of %d allocates %.1f times", len(rs), n)
	}
}

// threadCPU is the CPU time of the calling thread.
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// BenchmarkSend compares the cost of sending a fan-out of 1100-byte
// datagrams to N loopback sockets with one sendto each and with batches:
// ns/datagram is wall time, cpu-ns/datagram the sending thread's CPU time
// (the receivers drain their sockets on other threads).
func BenchmarkSend(b *testing.B) {
	for _, n := range []int{10, 200} {
		rs := drained(receivers(b, n))
		p := datagram(0, 0, 1100)
		for _, batch := range []bool{false, true} {
			name := "sendto"
			if batch {
				name = "sendmmsg"
			}
			b.Run(fmt.Sprintf("%s/subscribers=%d", name, n), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				c := newTestConn(b)
				start := threadCPU(b)
				for b.Loop() {
					if batch {
						c.begin()
					}
					for _, r := range rs {
						_, _ = c.WriteToAddrPort(p, addrPort(r))
					}
					if batch {
						c.end()
					}
				}
				cpu := threadCPU(b) - start
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/datagram")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/datagram")
			})
		}
	}
}

func TestBatchConnIPv6(t *testing.T) {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	b := NewConn(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer b.Close()
	r, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b.begin()
	for seq := range 3 {
		if _, err := b.WriteToAddrPort(datagram(0, seq, 300), addrPort(r)); err != nil {
			t.Fatal(err)
		}
	}
	b.end()
	for seq, p := range readAll(t, r, 3) {
		if string(p) != string(datagram(0, seq, 300)) {
			t.Fatalf("datagram %d garbled", seq)
		}
	}
	if st := (&Sockets{Conns: []*Conn{b}}).Stats(); st.Sent != 3 || st.Batches != 1 {
		t.Errorf("stats %+v, want 3 sent in 1 batch", st)
	}
}

func TestBatchConnReads(t *testing.T) {
	b := newTestConn(t)
	s := receivers(t, 1)[0]
	for seq := range 3 {
		if _, err := s.WriteToUDPAddrPort(datagram(0, seq, 100+seq), addrPort(b.UDPConn)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 2048)
	for seq := range 3 {
		n, from, err := b.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if from != addrPort(s) || string(buf[:n]) != string(datagram(0, seq, 100+seq)) {
			t.Fatalf("read %d bytes from %v, want datagram %d from %v", n, from, seq, addrPort(s))
		}
	}
	_ = b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := b.ReadFromAddrPort(buf); !os.IsTimeout(err) {
		t.Errorf("read past the deadline: %v, want a timeout", err)
	}
	_ = b.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		b.Close()
	}()
	if _, _, err := b.ReadFromAddrPort(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read of a closed socket: %v", err)
	}
}
