package sfu

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// egressKeyPair is an Egress's keys to encrypt with (AES-128-GCM, its
// context and sealer) and its peer's context, to decrypt with, made with
// decOpts.
func egressKeyPair(t testing.TB, decOpts ...srtp.ContextOption) (enc *egressKeys, dec *srtp.Context) {
	t.Helper()
	const profile = srtp.ProtectionProfileAeadAes128Gcm
	key, salt := make([]byte, 16), make([]byte, 12)
	_, _ = rand.Read(key)
	_, _ = rand.Read(salt)
	ctx, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	seal, err := newRTPSealer(profile, key, salt)
	if err != nil {
		t.Fatal(err)
	}
	dec, err = srtp.CreateContext(key, salt, profile, decOpts...)
	if err != nil {
		t.Fatal(err)
	}
	return &egressKeys{ctx: ctx, seal: seal}, dec
}

// newTestEgress is an Egress of no connection, counted in counters of
// its own.
func newTestEgress() *Egress {
	return &Egress{log: slog.New(slog.NewTextHandler(io.Discard, nil)), counters: new(Counters)}
}

// testEgress is a connected Egress sending on c to r, as one whose DTLS
// and ICE came up would.
func testEgress(enc *egressKeys, c *batchConn, r *net.UDPConn) *Egress {
	e := newTestEgress()
	e.conns = []*batchConn{c}
	e.keys = enc
	e.route = route{conn: c, addr: addrPort(r)}
	e.update()
	return e
}

// TestEgressSendsWhatTheSubscriberDecrypts: the fan-out through an
// Egress per subscriber puts SRTP on the wire that each subscriber's keys
// decrypt, with its own SSRC and payload type and the publisher's payload.
func TestEgressSendsWhatTheSubscriberDecrypts(t *testing.T) {
	c := newTestBatchConn(t)
	tr := newTestTrack()
	tr.batch = &sendBatch{conns: []*batchConn{c}}
	rs := receivers(t, 3)
	decs := make([]*srtp.Context, len(rs))
	for i, r := range rs {
		enc, dec := egressKeyPair(t)
		decs[i] = dec
		d := subscribe(tr, uint32(100+i), 96, discard{})
		d.SetEgress(testEgress(enc, c, r))
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
	if st := c.sent.Load(); st != uint64(len(rs)*len(raws)) {
		t.Errorf("the shared socket sent %d datagrams, want %d", st, len(rs)*len(raws))
	}
}

// TestEgressDropsUntilConnected: before DTLS is up a down track sends
// nothing, as through pion, so video starts at a keyframe sent after it;
// an Egress without keys hands packets to pion.
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
	e.keys = &egressKeys{viaPion: true}
	e.update()
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

func TestRouteFor(t *testing.T) {
	c := newTestBatchConn(t)
	local := addrPort(c.UDPConn)
	pair := func(typ webrtc.ICECandidateType, proto webrtc.ICEProtocol, addr string, port uint16, related string, relatedPort uint16) *webrtc.ICECandidatePair {
		return webrtc.NewICECandidatePair(
			&webrtc.ICECandidate{Typ: typ, Protocol: proto, Address: addr, Port: port, RelatedAddress: related, RelatedPort: relatedPort},
			&webrtc.ICECandidate{Typ: webrtc.ICECandidateTypePrflx, Protocol: proto, Address: "127.0.0.1", Port: 40000})
	}
	for _, tc := range []struct {
		name   string
		pair   *webrtc.ICECandidatePair
		shared bool
	}{
		{"host on the socket", pair(webrtc.ICECandidateTypeHost, webrtc.ICEProtocolUDP, "127.0.0.1", local.Port(), "", 0), true},
		{"host given a public address (NAT 1:1)", pair(webrtc.ICECandidateTypeHost, webrtc.ICEProtocolUDP, "203.0.113.9", local.Port(), "", 0), true},
		{"server reflexive, based on the socket", pair(webrtc.ICECandidateTypeSrflx, webrtc.ICEProtocolUDP, "203.0.113.9", 61000, "127.0.0.1", local.Port()), true},
		{"another port", pair(webrtc.ICECandidateTypeHost, webrtc.ICEProtocolUDP, "127.0.0.1", local.Port()+1, "", 0), false},
		{"TCP", pair(webrtc.ICECandidateTypeHost, webrtc.ICEProtocolTCP, "127.0.0.1", local.Port(), "", 0), false},
		{"none", nil, false},
	} {
		r := routeFor([]*batchConn{c}, tc.pair)
		if (r.conn != nil) != tc.shared {
			t.Errorf("%s: route %v, want one on the shared socket: %v", tc.name, r, tc.shared)
			continue
		}
		if r.conn != nil && (r.conn != c || r.addr.String() != "127.0.0.1:40000") {
			t.Errorf("%s: route %+v", tc.name, r)
		}
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
			name := fmt.Sprintf("subscribers=%d", n)
			if cold {
				name += "/cold"
			}
			b.Run(name, func(b *testing.B) { benchmarkForwardEgress(b, n, cold) })
		}
	}
}

// benchmarkForwardEgress fans packets out to n subscribers. Cold, it
// writes over a buffer larger than the processor's caches before each
// packet, out of the measurement, as the kernel's work for a fan-out's
// datagrams and the other processes do in the server: each subscriber's
// state is then met cold, and asking for it ahead (prefetch.go) shows.
func benchmarkForwardEgress(b *testing.B, n int, cold bool) {
	c := newTestBatchConn(b)
	tr := newTestTrack()
	tr.batch = &sendBatch{conns: []*batchConn{c}}
	for i, r := range drained(receivers(b, n)) {
		enc, _ := egressKeyPair(b)
		subscribe(tr, uint32(i+1), 96, discard{}).SetEgress(testEgress(enc, c, r))
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
	c := newTestBatchConn(t)
	tr := newTestTrack()
	tr.batch = &sendBatch{conns: []*batchConn{c}}
	for i, r := range drained(receivers(t, 10)) {
		enc, _ := egressKeyPair(t)
		subscribe(tr, uint32(i+1), 96, discard{}).SetEgress(testEgress(enc, c, r))
	}
	key, inter := vp8(t, 1, true), vp8(t, 2, false)
	var scratch rtp.Packet
	forwardFirst(tr, key, &scratch)
	if n := testing.AllocsPerRun(100, func() { forwardFirst(tr, inter, &scratch) }); n != 0 {
		t.Errorf("forwarding through the Egress allocates %.1f times per packet", n)
	}
	if c.sent.Load() == 0 {
		t.Error("nothing was sent")
	}
}

// dtlsPair is a DTLS client and server that completed a handshake over
// loopback UDP, agreeing on profile.
func dtlsPair(t *testing.T, profile dtls.SRTPProtectionProfile) (client, server *dtls.Conn) {
	t.Helper()
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	cfg := &dtls.Config{
		Certificates:           []tls.Certificate{cert},
		InsecureSkipVerify:     true,
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{profile},
		ExtendedMasterSecret:   dtls.RequireExtendedMasterSecret,
	}
	rs := receivers(t, 2)
	a, b := rs[0], rs[1]
	if client, err = dtls.Client(a, b.LocalAddr(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if server, err = dtls.Server(b, a.LocalAddr(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := make(chan error, 1)
	go func() { errs <- client.HandshakeContext(ctx) }()
	if err := server.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return client, server
}

// peerContexts are the contexts of peer, the other end of meetd's DTLS
// connection, made as pion makes them: dec decrypts what meetd sends, enc
// encrypts what peer sends.
func peerContexts(t *testing.T, peer *dtls.Conn, isClient bool, profile srtp.ProtectionProfile) (dec, enc *srtp.Context) {
	t.Helper()
	state, ok := peer.ConnectionState()
	if !ok {
		t.Fatal("no DTLS state")
	}
	cfg := srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, isClient); err != nil {
		t.Fatal(err)
	}
	dec, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, profile)
	if err != nil {
		t.Fatal(err)
	}
	enc, err = srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, profile)
	if err != nil {
		t.Fatal(err)
	}
	return dec, enc
}

// TestSRTPContextsMatchThePeer: meetd's half of the SRTP keys, whichever
// end of the DTLS handshake it was and whichever profile was agreed, is
// what the peer decrypts with, and its other half decrypts the peer's
// SRTCP.
func TestSRTPContextsMatchThePeer(t *testing.T) {
	for _, tc := range []struct {
		dtls   dtls.SRTPProtectionProfile
		srtp   srtp.ProtectionProfile
		sealer bool // meetd seals RTP itself
	}{
		{dtls.SRTP_AEAD_AES_128_GCM, srtp.ProtectionProfileAeadAes128Gcm, true},
		{dtls.SRTP_AEAD_AES_256_GCM, srtp.ProtectionProfileAeadAes256Gcm, true},
		{dtls.SRTP_AES128_CM_HMAC_SHA1_80, srtp.ProtectionProfileAes128CmHmacSha1_80, false},
	} {
		client, server := dtlsPair(t, tc.dtls)
		for _, side := range []struct {
			name       string
			local      *dtls.Conn
			peer       *dtls.Conn
			peerClient bool
		}{
			{"meetd the DTLS client", client, server, false},
			{"meetd the DTLS server", server, client, true},
		} {
			keys, err := srtpKeys(side.local)
			if err != nil {
				t.Fatalf("%v, %s: %v", tc.srtp, side.name, err)
			}
			if (keys.seal != nil) != tc.sealer {
				t.Errorf("%v, %s: sealer %v, want %v", tc.srtp, side.name, keys.seal != nil, tc.sealer)
			}
			dec, peerEnc := peerContexts(t, side.peer, side.peerClient, tc.srtp)
			h := rtp.Header{Version: 2, SSRC: 42, SequenceNumber: 7, Timestamp: 9, PayloadType: 96}
			plain, _ := (&rtp.Packet{Header: h, Payload: []byte("a frame")}).Marshal()
			sealed, err := keys.ctx.EncryptRTP(nil, plain, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dec.DecryptRTP(nil, sealed, nil)
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("%v, %s: the peer cannot decrypt (%v)", tc.srtp, side.name, err)
			}
			if keys.seal != nil {
				h.SequenceNumber++
				plain, _ = (&rtp.Packet{Header: h, Payload: []byte("the next frame")}).Marshal()
				buf := append(slices.Clone(plain), make([]byte, srtpMaxOverhead)...)
				sealed, err = keys.seal.seal(buf, len(plain)-len("the next frame"), len("the next frame"), h.SSRC, h.SequenceNumber)
				if err != nil {
					t.Fatal(err)
				}
				got, err = dec.DecryptRTP(nil, sealed, nil)
				if err != nil || !bytes.Equal(got, plain) {
					t.Errorf("%v, %s: the peer cannot decrypt what the sealer sealed (%v)", tc.srtp, side.name, err)
				}
			}
			pli, _ := (&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 42}).Marshal()
			sealed, err = peerEnc.EncryptRTCP(nil, pli, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err = keys.remote.DecryptRTCP(nil, sealed, nil)
			if err != nil || !bytes.Equal(got, pli) {
				t.Errorf("%v, %s: meetd cannot decrypt the peer's RTCP (%v)", tc.srtp, side.name, err)
			}
		}
	}
}

// BenchmarkFloor is meetload's floor measured as BenchmarkForwardEgress
// measures meetd: per subscriber, one SRTP encryption with a context of
// its own and one sendto of the packet to a loopback socket.
func BenchmarkFloor(b *testing.B) {
	for _, n := range []int{10, 200} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			c := newTestBatchConn(b)
			rs := drained(receivers(b, n))
			encs := make([]*srtp.Context, n)
			for i := range encs {
				keys, _ := egressKeyPair(b)
				encs[i] = keys.ctx
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

// TestEgressCountsConnectionsByPath: a connection is counted by how it
// sends while connected, and not at all before or after.
func TestEgressCountsConnectionsByPath(t *testing.T) {
	c := newTestBatchConn(t)
	e := newTestEgress()
	want := func(step string, shared, ice, pion int64) {
		t.Helper()
		p := &e.counters.sendPaths
		if got := [...]int64{p[SendShared].Load(), p[SendICE].Load(), p[SendPion].Load()}; got != [...]int64{shared, ice, pion} {
			t.Errorf("%s: shared, ice, pion = %v", step, got)
		}
	}
	e.route = route{conn: c, addr: addrPort(c.UDPConn)}
	e.update()
	want("a route before DTLS", 0, 0, 0)
	enc, _ := egressKeyPair(t)
	e.keys = enc
	e.update()
	want("connected on the shared socket", 1, 0, 0)
	e.route = route{}
	e.update()
	want("a pair on no shared socket", 0, 1, 0)
	e.keys = nil
	e.update()
	want("closed", 0, 0, 0)
	e.keys = &egressKeys{viaPion: true}
	e.update()
	want("no keys", 0, 0, 1)
	if n := e.counters.sendPaths[SendNone].Load(); n != 0 {
		t.Errorf("connections counted as not sending: %d", n)
	}
}
