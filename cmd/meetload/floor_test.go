package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/sys/unix"
)

// The floor's work is real SRTP, sent for real: what it seals, a peer
// holding the keys decrypts, and each destination gets its packets.

// gcmProfiles are the profiles the floor seals with, and their key lengths.
var gcmProfiles = []struct {
	p      srtp.ProtectionProfile
	keyLen int
}{{srtp.ProtectionProfileAeadAes128Gcm, 16}, {srtp.ProtectionProfileAeadAes256Gcm, 32}}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// The sealer's packets are what pion's SRTP context of the same master key
// and salt decrypts: header as associated data, IV of SSRC, rollover
// counter and sequence number, the tag after the payload; across a
// sequence number wrap, where the rollover counter moves.
func TestSealerIsSRTP(t *testing.T) {
	for _, g := range gcmProfiles {
		key, salt := randomBytes(t, g.keyLen), randomBytes(t, 12)
		const ssrc = 0xfeed
		s, err := newSRTPSealer(key, salt, ssrc)
		if err != nil {
			t.Fatal(err)
		}
		peer, err := srtp.CreateContext(key, salt, g.p)
		if err != nil {
			t.Fatal(err)
		}
		for i, seq := 0, uint16(65530); i < 12; i, seq = i+1, seq+1 {
			h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(i) * 3000, SSRC: ssrc}
			payload := randomBytes(t, 100+i)
			buf := make([]byte, 1500)
			hn, err := h.MarshalTo(buf)
			if err != nil {
				t.Fatal(err)
			}
			n := hn + copy(buf[hn:], payload)
			sealed := s.seal(buf, hn, n)
			if len(sealed) != n+srtpTagSize {
				t.Fatalf("%v seq %d: sealed %d bytes, want %d", g.p, seq, len(sealed), n+srtpTagSize)
			}
			if bytes.Contains(sealed, payload[:16]) {
				t.Fatalf("%v seq %d: the payload went out in the clear", g.p, seq)
			}
			plain, err := peer.DecryptRTP(nil, sealed, nil)
			if err != nil {
				t.Fatalf("%v seq %d: the peer cannot decrypt it: %v", g.p, seq, err)
			}
			if !bytes.Equal(plain[hn:], payload) {
				t.Fatalf("%v seq %d: the peer decrypts another payload", g.p, seq)
			}
		}
	}
	if _, err := newSRTPSealer(make([]byte, 24), make([]byte, 12), 1); !errors.Is(err, errSealSizes) {
		t.Errorf("a 24-byte key: error %v", err)
	}
}

// A fan-out sends each packet to every destination, more than a batch
// holds, each sealed with that destination's keys and SSRC, in the sizes of
// the mix.
func TestFanOutSendsSRTP(t *testing.T) {
	snd, err := newUDPSender()
	if err != nil {
		t.Fatal(err)
	}
	defer snd.close()
	const socks, dests, bursts = 3, sendBatch + 6, 3
	var conns []*net.UDPConn
	var addrs [socks]unix.RawSockaddrInet4
	for i := range socks {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadBuffer(1 << 20)
		conns = append(conns, c)
		addrs[i] = sockaddr4(c.LocalAddr().(*net.UDPAddr))
	}
	mix := []sizeShare{{1112, 0.5}, {132, 0.5}}
	f := &fanOut{snd: snd, dests: make([]floorDest, dests), plain: floorPackets(mix)}
	peers := map[uint32]*srtp.Context{}
	for i := range f.dests {
		key, salt := randomBytes(t, 16), randomBytes(t, 12)
		ssrc := uint32(0x10000 + i)
		if f.dests[i].seal, err = newSRTPSealer(key, salt, ssrc); err != nil {
			t.Fatal(err)
		}
		f.dests[i].addr = &addrs[i%socks]
		if peers[ssrc], err = srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm); err != nil {
			t.Fatal(err)
		}
	}
	for range bursts {
		if err := f.burst(); err != nil {
			t.Fatal(err)
		}
	}
	got := map[uint32]int{}
	sizes := map[int]int{}
	buf := make([]byte, 2048)
	var perSocket [socks]int
	for i := range dests {
		perSocket[i%socks] += bursts
	}
	for i, c := range conns {
		for range perSocket[i] {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("socket %d: %v", i, err)
			}
			ssrc := binary.BigEndian.Uint32(buf[8:])
			peer := peers[ssrc]
			if peer == nil {
				t.Fatalf("socket %d: a packet of unknown SSRC %x", i, ssrc)
			}
			plain, err := peer.DecryptRTP(nil, buf[:n], nil)
			if err != nil {
				t.Fatalf("socket %d, SSRC %x: %v", i, ssrc, err)
			}
			got[ssrc]++
			sizes[len(plain)]++
		}
	}
	for ssrc := range peers {
		if got[ssrc] != bursts {
			t.Errorf("SSRC %x got %d packets, want %d", ssrc, got[ssrc], bursts)
		}
	}
	for size := range sizes {
		if size != 1112 && size != 132 {
			t.Errorf("a packet of %d bytes, not of the mix", size)
		}
	}
}

// The floor and the limits come to a figure, with every packet received;
// how large, this machine's speed says.
func TestFloorAndLimitsMeasure(t *testing.T) {
	us, err := measureFloor(-1, floorSpec{keyLen: 16, fanout: 3, packets: 30, interval: time.Millisecond,
		mix: []sizeShare{{1112, 0.7}, {132, 0.3}}})
	if err != nil || us <= 0 {
		t.Errorf("floor: %v µs, %v", us, err)
	}
	l := measureLimits(-1, 1)
	if l.SendtoUs <= 0 || l.SendmmsgUs <= 0 {
		t.Errorf("limits: %+v", l)
	}
	if l.GSOUs <= 0 {
		// A kernel without UDP GSO on loopback says so, and the
		// other figures stand.
		if !strings.Contains(l.Error, "UDP GSO") {
			t.Errorf("no GSO figure, and no error about it: %+v", l)
		}
		t.Logf("UDP GSO: %s", l.Error)
	}
	if l.Bytes != videoPacketBytes+srtpTagSize || l.Batch != sendBatch || l.GSOSegments != 58 {
		t.Errorf("limits measured %d-byte datagrams, batches of %d, %d segments", l.Bytes, l.Batch, l.GSOSegments)
	}
}

func TestGSOSegments(t *testing.T) {
	for _, c := range []struct{ size, want int }{{1128, 58}, {1000, 64}, {144, 64}, {65507, 1}, {70000, 1}} {
		if got := gsoSegments(c.size); got != c.want {
			t.Errorf("gsoSegments(%d) = %d, want %d", c.size, got, c.want)
		}
	}
}

// Fan-outs follow each other as the run's did.
func TestFanOutInterval(t *testing.T) {
	for _, c := range []struct {
		fanout int
		pps    float64
		want   time.Duration
	}{
		{200, 40000, 5 * time.Millisecond}, // W1: a published packet every 5 ms
		{5, 5000, time.Millisecond},        // W2 of 6
		{5, 1e6, 50 * time.Microsecond},    // bounded below
		{1, 10, 20 * time.Millisecond},     // and above
		{5, 0, time.Millisecond},           // no packets: a millisecond
	} {
		if got := fanOutInterval(c.fanout, c.pps); got != c.want {
			t.Errorf("fanOutInterval(%d, %v) = %v, want %v", c.fanout, c.pps, got, c.want)
		}
	}
}

func TestGCMKeyLen(t *testing.T) {
	for name, want := range map[string]int{"SRTP_AEAD_AES_128_GCM": 16, "SRTP_AEAD_AES_256_GCM": 32} {
		if n, err := gcmKeyLen(name); n != want || err != nil {
			t.Errorf("%s: %d, %v; want %d", name, n, err, want)
		}
	}
	for _, name := range []string{"SRTP_AES128_CM_HMAC_SHA1_80", ""} {
		if _, err := gcmKeyLen(name); err == nil || !strings.Contains(err.Error(), "AES-GCM") {
			t.Errorf("%q: error %v, want one saying the floor is AES-GCM's", name, err)
		}
	}
}

// threadCPU is the calling thread's CPU time: work on another thread of the
// process does not move it.
func TestThreadCPUIsTheThreads(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mine0, err := threadCPU()
	if err != nil {
		t.Fatal(err)
	}
	proc0, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Another goroutine works until the process used 50 ms more, while
	// this thread waits.
	done := make(chan error)
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		x := 0
		for time.Now().Before(deadline) {
			for i := range 100000 {
				x += i
			}
			if p, err := procCPU(os.Getpid()); err != nil || p-proc0 >= 50*time.Millisecond {
				done <- err
				return
			}
		}
		done <- errors.New("the process did not get 50 ms of CPU in 30 s")
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mine1, err := threadCPU()
	if err != nil {
		t.Fatal(err)
	}
	if d := mine1 - mine0; d < 0 || d >= 25*time.Millisecond {
		t.Errorf("this thread's CPU moved %v while another worked 50 ms", d)
	}
	// And it moves when this thread works.
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, err := threadCPU()
		if err != nil {
			t.Fatal(err)
		}
		if now-mine1 >= 5*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("this thread's CPU did not move in 30 s of work")
		}
	}
	if o, err := clockOverhead(); err != nil || o < 0 {
		t.Errorf("clockOverhead = %v, %v", o, err)
	}
}

func TestBuildStamp(t *testing.T) {
	set := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, c := range []struct {
		name     string
		settings []debug.BuildSetting
		rev      string
		modified bool
		says     string
	}{
		{"the toolchain's stamp", set("vcs.revision", "abc123", "vcs.modified", "false", "vcs.time", "2026-01-02T03:04:05Z"),
			"abc123", false, "revision abc123 (2026-01-02T03:04:05Z), go1.26.8"},
		{"modified", set("vcs.revision", "abc123", "vcs.modified", "true"), "abc123", true, "MODIFIED"},
		{"the Makefile's stamp", set("-ldflags", "-X main.vcsRevision=def456 -X main.vcsModified=true"), "def456", true, "revision def456, MODIFIED"},
		{"the Makefile's, clean", set("-ldflags", "-s -X main.vcsModified=false -X main.vcsRevision=def456"), "def456", false, "revision def456, go1.26.8"},
		{"the toolchain's wins", set("vcs.revision", "abc123", "vcs.modified", "false", "-ldflags", "-X main.vcsRevision=def456 -X main.vcsModified=true"),
			"abc123", false, "revision abc123"},
		{"none", set("-ldflags", "-s -w"), "", false, "no VCS revision stamped"},
	} {
		b := stampOf("bin/meetd", &debug.BuildInfo{GoVersion: "go1.26.8", Settings: c.settings})
		if b.Revision != c.rev || b.Modified != c.modified || !strings.Contains(b.String(), c.says) {
			t.Errorf("%s: revision %q, modified %v, %q; want %q, %v, saying %q", c.name, b.Revision, b.Modified, b.String(), c.rev, c.modified, c.says)
		}
	}
	// A real binary: this test's.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if b := readBuild(exe); b.Error != "" || b.GoVersion != runtime.Version() {
		t.Errorf("this test's binary: %+v", b)
	}
	if b := readBuild("floor_test.go"); b.Error == "" || !strings.Contains(b.String(), "build unknown") {
		t.Errorf("a Go source file read as a binary: %+v", b)
	}
}

// The floor sends the sizes the subscribers received in the window, in
// their shares.
func TestWindowMix(t *testing.T) {
	r, w := newTestReceiver(false)
	ts := r.track(true)
	send := func(seq uint16, payload int) {
		r.packet(ts, &rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 1}, make([]byte, payload), int64(seq)*int64(time.Millisecond))
	}
	send(1, 500) // before the window
	w.measuring.Store(true)
	for seq := uint16(2); seq < 10; seq++ {
		payload := 1100
		if seq%4 == 0 {
			payload = 120
		}
		send(seq, payload)
	}
	send(9, 120)  // a duplicate: not forwarded twice
	send(10, 1e4) // larger than any datagram: counted at the largest size
	mix := w.mix()
	want := []sizeShare{{132, 2.0 / 9}, {1112, 6.0 / 9}, {maxRTPSize, 1.0 / 9}}
	if len(mix) != len(want) {
		t.Fatalf("mix %v, want %v", mix, want)
	}
	for i := range want {
		if mix[i].size != want[i].size || mix[i].share-want[i].share > 1e-9 || want[i].share-mix[i].share > 1e-9 {
			t.Errorf("mix %v, want %v", mix, want)
		}
	}
	if m := meanSize([]sizeShare{{1112, 0.75}, {132, 0.25}}); m != 867 {
		t.Errorf("meanSize = %v, want 867", m)
	}
	if (&window{}).mix() != nil {
		t.Error("an empty window has a mix")
	}
}

// The table says which build it measured, and the limits beside.
func TestTableShowsBuildAndLimits(t *testing.T) {
	var out strings.Builder
	printTable(&out, report{
		meetd:   buildStamp{Path: "bin/meetd", GoVersion: "go1.26.8", Revision: "abc123", Modified: true},
		limits:  &limits{Bytes: 1128, Destinations: 64, SendtoUs: 1.9, Batch: 64, SendmmsgUs: 1.7, GSOSegments: 58, Error: "UDP GSO: sendmsg UDP_SEGMENT: input/output error"},
		results: []result{{Workload: "w2", Subscribers: 10, ForwardedPPS: 17000, CPUUsPerPkt: 12, FloorUsPerPkt: 4, RatioToFloor: 3}},
	})
	for _, want := range []string{
		"meetd bin/meetd: revision abc123, MODIFIED",
		"1128-byte datagrams to 64 loopback sockets",
		"sendto", "1.90", "sendmmsg", "1.70",
		"limits: UDP GSO: sendmsg UDP_SEGMENT",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, out.String())
		}
	}
	for _, row := range []string{"w2 10 17000 12.00 4.00 3.00", "UDP GSO 58 -"} { // GSO not measured
		found := false
		for _, line := range strings.Split(out.String(), "\n") {
			found = found || strings.HasPrefix(strings.Join(strings.Fields(line), " "), row)
		}
		if !found {
			t.Errorf("the table has no row %q:\n%s", row, out.String())
		}
	}
}
