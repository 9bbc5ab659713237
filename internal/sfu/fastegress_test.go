package sfu

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/sys/unix"

	"github.com/meetd/meetd/internal/egress"
	"github.com/meetd/meetd/internal/udpbatch"
)

// Tests of forwarding through meetd's fast egress, on loopback sockets.

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

// newTestSocket is a shared media socket on loopback.
func newTestSocket(t testing.TB) *udpbatch.Conn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b := udpbatch.NewConn(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { b.Close() })
	return b
}

// threadCPU is the CPU time of the calling thread.
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// newTestEgress is an Egress of no connection, counted in counters of
// its own, that sends through pion's write path once connected.
func newTestEgress() *Egress {
	return &Egress{log: slog.New(slog.NewTextHandler(io.Discard, nil)), counters: new(Counters)}
}

// srtpKeyPair is a subscriber's SRTP keys (AES-128-GCM): meetd's half
// encrypts, the subscriber's context, made with decOpts, decrypts.
func srtpKeyPair(t testing.TB, decOpts ...srtp.ContextOption) (srtp.SessionKeys, *srtp.Context) {
	t.Helper()
	key, salt := make([]byte, 16), make([]byte, 12)
	_, _ = rand.Read(key)
	_, _ = rand.Read(salt)
	dec, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm, decOpts...)
	if err != nil {
		t.Fatal(err)
	}
	return srtp.SessionKeys{LocalMasterKey: key, LocalMasterSalt: salt, RemoteMasterKey: key, RemoteMasterSalt: salt}, dec
}

// testEgress is an Egress whose fast egress sends on c to r with keys, as
// one whose DTLS and ICE came up would.
func testEgress(t testing.TB, keys srtp.SessionKeys, c *udpbatch.Conn, r *net.UDPConn) *Egress {
	t.Helper()
	e := newTestEgress()
	fast, err := egress.Static(e.fastConfig(sockets(c)), srtp.ProtectionProfileAeadAes128Gcm, keys, c, addrPort(r))
	if err != nil {
		t.Fatal(err)
	}
	e.fast = fast
	e.connected.Store(true)
	return e
}

// sockets are c alone, as a track's batch.
func sockets(c *udpbatch.Conn) *udpbatch.Sockets {
	return &udpbatch.Sockets{Conns: []*udpbatch.Conn{c}}
}

// TestEgressSendsWhatTheSubscriberDecrypts: the fan-out through an
// Egress per subscriber puts SRTP on the wire that each subscriber's keys
// decrypt, with its own SSRC and payload type and the publisher's payload.
func TestEgressSendsWhatTheSubscriberDecrypts(t *testing.T) {
	c := newTestSocket(t)
	tr := newTestTrack()
	tr.batch = sockets(c)
	rs := receivers(t, 3)
	decs := make([]*srtp.Context, len(rs))
	for i, r := range rs {
		keys, dec := srtpKeyPair(t)
		decs[i] = dec
		d := subscribe(tr, uint32(100+i), 96, discard{})
		d.SetEgress(testEgress(t, keys, c, r))
	}
	var pkt rtp.Packet
	raws := [][]byte{vp8(t, 1, true), vp8(t, 2, false), vp8(t, 3, false)}
	for _, raw := range raws {
		forwardFirst(tr, raw, &pkt)
	}
	for i, r := range rs {
		for j, raw := range raws {
			var sent rtp.Packet
			if err := sent.Unmarshal(raw); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1500)
			_ = r.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _, err := r.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("subscriber %d, packet %d: %v", i, j, err)
			}
			plain, err := decs[i].DecryptRTP(nil, buf[:n], nil)
			if err != nil {
				t.Fatalf("subscriber %d, packet %d does not decrypt: %v", i, j, err)
			}
			var got rtp.Packet
			if err := got.Unmarshal(plain); err != nil {
				t.Fatal(err)
			}
			if got.SSRC != uint32(100+i) || got.PayloadType != 96 || got.Extension {
				t.Errorf("subscriber %d, packet %d: header %v", i, j, got.Header)
			}
			if !bytes.Equal(got.Payload, sent.Payload) {
				t.Errorf("subscriber %d, packet %d: payload differs", i, j)
			}
		}
	}
	if st := tr.batch.Stats(); st.Sent != uint64(len(rs)*len(raws)) || st.FromEgress != st.Sent {
		t.Errorf("the shared socket sent %d datagrams (%d from the egress), want %d", st.Sent, st.FromEgress, len(rs)*len(raws))
	}
}

// TestEgressDropsUntilConnected: before DTLS is up a down track sends
// nothing through pion's write path, as pion would drop it, so video
// starts at a keyframe sent after it; once connected, pion's writer gets
// it from the Egress's queue.
func TestEgressDropsUntilConnected(t *testing.T) {
	tr := newTestTrack()
	rec := &recorder{}
	d := subscribe(tr, 7, 96, rec)
	e := newTestEgress()
	d.SetEgress(e)
	var pkt rtp.Packet
	forwardFirst(tr, vp8(t, 1, true), &pkt)
	if d.Packets() != 0 || len(rec.packets()) != 0 {
		t.Fatalf("sent %d packets before DTLS was up", d.Packets())
	}
	e.connected.Store(true)
	forwardFirst(tr, vp8(t, 2, false), &pkt)
	if len(rec.packets()) != 0 {
		t.Fatalf("video started without a keyframe")
	}
	forwardFirst(tr, vp8(t, 3, true), &pkt)
	// pion's write path is written from the Egress's queue, by its own
	// goroutine.
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.packets()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := rec.packets(); len(got) != 1 || got[0].SSRC != 7 {
		t.Fatalf("through pion: %d packets, want the keyframe", len(got))
	}
}

// BenchmarkForwardEgress is the whole per-subscriber cost of forwarding a
// 1100-byte VP8 packet: rewriting, SRTP encryption with each subscriber's
// keys and batched sends to loopback sockets. cpu-ns/subscriber is the
// forwarding thread's CPU time, kernel included (the receivers drain
// their sockets on other threads).
func BenchmarkForwardEgress(b *testing.B) {
	for _, n := range []int{10, 200} {
		for _, cold := range []bool{false, true} {
			for _, stamp := range []bool{false, true} {
				name := fmt.Sprintf("subscribers=%d", n)
				if cold {
					name += "/cold"
				}
				if stamp {
					// Each packet carries abs-send-time, as to browsers.
					name += "/abs-send-time"
				}
				b.Run(name, func(b *testing.B) { benchmarkForwardEgress(b, n, cold, stamp) })
			}
		}
	}
}

// benchmarkForwardEgress fans packets out to n subscribers. Cold, it
// writes over a buffer larger than the processor's caches before each
// packet, out of the measurement, as the kernel's work for a fan-out's
// datagrams and the other processes do in the server: each subscriber's
// state is then met cold, and asking for it ahead (fanout.go) shows.
func benchmarkForwardEgress(b *testing.B, n int, cold, stamp bool) {
	c := newTestSocket(b)
	tr := newTestTrack()
	tr.batch = sockets(c)
	for i, r := range drained(receivers(b, n)) {
		keys, _ := srtpKeyPair(b)
		d := subscribe(tr, uint32(i+1), 96, discard{})
		d.SetEgress(testEgress(b, keys, c, r))
		if stamp {
			d.wire.Store(uint64(wire(d.wire.Load()).withAbsSendTime(3)))
		}
	}
	key, inter := vp8(b, 1, true), vp8(b, 2, false)
	var scratch rtp.Packet
	forwardFirst(tr, key, &scratch)
	var evict []byte
	if cold {
		evict = make([]byte, 64<<20)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	var cpu time.Duration
	start := threadCPU(b)
	for i := 0; i < b.N; i++ {
		if cold {
			b.StopTimer()
			for j := 0; j < len(evict); j += 64 {
				evict[j]++
			}
			start = threadCPU(b)
			b.StartTimer()
		}
		forwardFirst(tr, inter, &scratch)
		if cold {
			cpu += threadCPU(b) - start
		}
	}
	if !cold {
		cpu = threadCPU(b) - start
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/subscriber")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/subscriber")
}

// TestEgressForwardAllocatesNothing: forwarding through each
// subscriber's Egress (rewriting, sealing, queueing on the shared socket)
// allocates nothing per packet, as forwarding to pion's writer does not
// (TestForwardAllocatesNothing).
func TestEgressForwardAllocatesNothing(t *testing.T) {
	c := newTestSocket(t)
	tr := newTestTrack()
	tr.batch = sockets(c)
	for i, r := range drained(receivers(t, 10)) {
		keys, _ := srtpKeyPair(t)
		d := subscribe(tr, uint32(i+1), 96, discard{})
		d.SetEgress(testEgress(t, keys, c, r))
		if i%2 == 1 {
			// Half of them stamped with abs-send-time, as browsers are.
			d.wire.Store(uint64(wire(d.wire.Load()).withAbsSendTime(3)))
		}
	}
	key, inter := vp8(t, 1, true), vp8(t, 2, false)
	var scratch rtp.Packet
	forwardFirst(tr, key, &scratch)
	if n := testing.AllocsPerRun(100, func() { forwardFirst(tr, inter, &scratch) }); n != 0 {
		t.Errorf("forwarding through the Egress allocates %.1f times per packet", n)
	}
	if tr.batch.Stats().FromEgress == 0 {
		t.Error("nothing was sent")
	}
}

// BenchmarkFloor is meetload's floor measured as BenchmarkForwardEgress
// measures meetd: per subscriber, one SRTP encryption with a context of
// its own and one sendto of the packet to a loopback socket.
func BenchmarkFloor(b *testing.B) {
	for _, n := range []int{10, 200} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			c := newTestSocket(b)
			rs := drained(receivers(b, n))
			encs := make([]*srtp.Context, n)
			for i := range encs {
				keys, _ := srtpKeyPair(b)
				var err error
				if encs[i], err = srtp.CreateContext(keys.LocalMasterKey, keys.LocalMasterSalt, srtp.ProtectionProfileAeadAes128Gcm); err != nil {
					b.Fatal(err)
				}
			}
			var pkt rtp.Packet
			if err := pkt.Unmarshal(vp8(b, 2, false)); err != nil {
				b.Fatal(err)
			}
			pkt.Extension, pkt.Extensions = false, nil
			plain, _ := pkt.Marshal()
			out := make([]byte, 0, 1600)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start := threadCPU(b)
			for b.Loop() {
				for i, r := range rs {
					sealed, err := encs[i].EncryptRTP(out[:0], plain, nil)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = c.WriteToUDPAddrPort(sealed, addrPort(r))
				}
			}
			cpu := threadCPU(b) - start
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/subscriber")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/subscriber")
		})
	}
}

// TestSubscribersJoinWhileForwarding: as in the server, a down track is in
// its track's list before its Egress is set and it is bound, while the
// read loop forwards; the fan-out (its asking ahead included) reads a
// down track's egress only once it is bound. Under -race this fails if it
// reads it sooner. Every subscriber is then sent packets.
func TestSubscribersJoinWhileForwarding(t *testing.T) {
	c := newTestSocket(t)
	tr := newTestTrack()
	tr.batch = sockets(c)
	rs := drained(receivers(t, 8))
	key, inter := vp8(t, 1, true), vp8(t, 2, false)
	done := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		var pkt rtp.Packet
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			raw := inter
			if i%20 == 0 {
				raw = key
			}
			forwardFirst(tr, raw, &pkt)
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for i, r := range rs {
		keys, _ := srtpKeyPair(t)
		d := tr.Subscribe()
		d.SetEgress(testEgress(t, keys, c, r))
		d.bound.Store(&binding{w: discard{}})
		d.wire.Store(uint64(makeWire(uint32(100+i), 96)))
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !slices.ContainsFunc(*tr.downs.Load(), func(d *DownTrack) bool { return d.Packets() == 0 }) {
			break
		}
	}
	close(done)
	<-forwarded
	for i, d := range *tr.downs.Load() {
		if d.Packets() == 0 {
			t.Errorf("subscriber %d was sent nothing", i)
		}
	}
}

// testFastEgress is whether APIs of the tests use the fast egress:
// MEETD_FAST_EGRESS, true unless it says false, as meetd reads it. make
// test runs the suite both ways.
func testFastEgress() bool {
	switch strings.ToLower(os.Getenv("MEETD_FAST_EGRESS")) {
	case "false", "0", "no", "off":
		return false
	}
	return true
}

// TestZeroConfigIsPionsWritePath: an API configured with nothing sends
// through pion's write path; with FastEgress, through meetd's egress.
func TestZeroConfigIsPionsWritePath(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, fast := range []bool{false, true} {
		a, err := NewAPI(Config{Loopback: true, Interfaces: []string{"lo"}, FastEgress: fast}, log)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := a.NewSubscribeConnection()
		if err != nil {
			t.Fatal(err)
		}
		e := a.NewEgress(pc, log)
		want := fast && egress.Available()
		if a.FastEgress() != want || (e.fast != nil) != want {
			t.Errorf("FastEgress %v: the API says %v, its egress has a fast path: %v", fast, a.FastEgress(), e.fast != nil)
		}
		_ = pc.Close()
		a.Close()
	}
}

// TestDownTrackIsSmall: the fan-out asks for a whole DownTrack ahead
// (egress.Prefetch), so it must stay a few cache lines: the buffer a
// rewritten payload is copied to lives apart.
func TestDownTrackIsSmall(t *testing.T) {
	if n := reflect.TypeFor[DownTrack]().Size(); n > 512 {
		t.Errorf("a DownTrack takes %d bytes, more than the 512 the fan-out should ask for ahead", n)
	}
}
