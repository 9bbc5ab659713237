package egress

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/udpbatch"
)

// egressKeyPair is a Conn's keys to encrypt with (AES-128-GCM, its
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

// newTestConn is a Conn of no peer connection whose ICE path is w.
func newTestConn(w io.Writer) *Conn {
	return newConn(Config{
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Enqueue: func(b []byte, _ bool, _ io.Writer) int { n, _ := w.Write(b); return n },
	})
}

// set gives e keys and a route, as DTLS and ICE would.
func (e *Conn) set(keys *egressKeys, r route) {
	e.state.Lock()
	defer e.state.Unlock()
	e.keys, e.route = keys, r
	e.update()
}

// receivers are n loopback UDP sockets.
func receivers(t testing.TB, n int) []*net.UDPConn {
	t.Helper()
	rs := make([]*net.UDPConn, n)
	for i := range rs {
		r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		rs[i] = r
	}
	return rs
}

func addrPort(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func newSocket(t testing.TB) *udpbatch.Conn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b := udpbatch.NewConn(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { b.Close() })
	return b
}

// packets collects what is written to it.
type packets struct{ got [][]byte }

func (p *packets) Write(b []byte) (int, error) {
	p.got = append(p.got, slices.Clone(b))
	return len(b), nil
}

// TestWriteSealsForTheSubscriber: a packet written to a Conn reaches
// the subscriber on the shared socket, or its ICE path, encrypted with
// keys the subscriber decrypts, header and payload as given.
func TestWriteSealsForTheSubscriber(t *testing.T) {
	c := newSocket(t)
	r := receivers(t, 1)[0]
	ice := &packets{}
	e := newTestConn(ice)
	enc, dec := egressKeyPair(t)
	h := rtp.Header{Version: 2, SSRC: 42, SequenceNumber: 7, Timestamp: 9, PayloadType: 96}
	payload := []byte("a frame of video")
	buf := make([]byte, MaxPacket+MaxOverhead)
	check := func(path string, sealed []byte) {
		t.Helper()
		plain, err := dec.DecryptRTP(nil, sealed, nil)
		if err != nil {
			t.Fatalf("%s: the subscriber cannot decrypt: %v", path, err)
		}
		var got rtp.Packet
		if err := got.Unmarshal(plain); err != nil {
			t.Fatal(err)
		}
		if got.Header.SSRC != h.SSRC || got.SequenceNumber != h.SequenceNumber || !bytes.Equal(got.Payload, payload) {
			t.Errorf("%s: got %v %q", path, got.Header, got.Payload)
		}
	}
	e.set(enc, route{conn: c, addr: addrPort(r)})
	if n, handled, err := e.WriteRTP(&h, payload, true, buf, nil); n == 0 || !handled || err != nil {
		t.Fatalf("on the shared socket: %d %v %v", n, handled, err)
	}
	got := make([]byte, 1500)
	_ = r.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := r.ReadFromUDPAddrPort(got)
	if err != nil {
		t.Fatal(err)
	}
	check("shared socket", got[:n])
	e.set(enc, route{})
	h.SequenceNumber++
	if n, handled, err := e.WriteRTP(&h, payload, true, buf, nil); n == 0 || !handled || err != nil || len(ice.got) != 1 {
		t.Fatalf("through ICE: %d %v %v, %d packets", n, handled, err, len(ice.got))
	}
	check("ICE", ice.got[0])
}

// TestWriteDropsUntilConnected: before DTLS is up a packet is dropped
// (0 bytes, as pion reports it), and after it closes; a Conn whose keys
// could not be had hands packets to pion.
func TestWriteDropsUntilConnected(t *testing.T) {
	e := newTestConn(io.Discard)
	h := rtp.Header{Version: 2, SSRC: 42}
	buf := make([]byte, MaxPacket+MaxOverhead)
	for stage := PrefetchConn; stage <= PrefetchKeys; stage++ {
		e.Prefetch(stage) // nothing to ask for yet
	}
	if n, handled, _ := e.WriteRTP(&h, []byte("x"), false, buf, nil); n != 0 || !handled {
		t.Errorf("before DTLS: %d bytes, handled %v; want 0, handled", n, handled)
	}
	if n, handled, _ := e.WriteRTCP([]byte("x"), buf); n != 0 || !handled {
		t.Errorf("RTCP before DTLS: %d bytes, handled %v; want 0, handled", n, handled)
	}
	e.set(&egressKeys{viaPion: true}, route{})
	if _, handled, _ := e.WriteRTP(&h, []byte("x"), false, buf, nil); handled {
		t.Error("without keys: a packet not handed to pion")
	}
	if _, handled, _ := e.WriteRTCP([]byte("x"), buf); handled {
		t.Error("without keys: RTCP not handed to pion")
	}
	e.Disconnect()
	if n, handled, _ := e.WriteRTP(&h, []byte("x"), false, buf, nil); n != 0 || !handled {
		t.Errorf("after DTLS closed: %d bytes, handled %v; want 0, handled", n, handled)
	}
}

func TestRouteFor(t *testing.T) {
	c := newSocket(t)
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
		r := routeFor([]*udpbatch.Conn{c}, tc.pair)
		if (r.conn != nil) != tc.shared {
			t.Errorf("%s: route %v, want one on the shared socket: %v", tc.name, r, tc.shared)
			continue
		}
		if r.conn != nil && (r.conn != c || r.addr.String() != "127.0.0.1:40000") {
			t.Errorf("%s: route %+v", tc.name, r)
		}
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
				buf := append(slices.Clone(plain), make([]byte, MaxOverhead)...)
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

// TestPathsAreReported: Config.Path hears how a Conn sends whenever
// that changes, and nothing else.
func TestPathsAreReported(t *testing.T) {
	c := newSocket(t)
	var paths []Path
	e := newTestConn(io.Discard)
	e.cfg.Path = func(p Path) { paths = append(paths, p) }
	e.set(nil, route{conn: c, addr: addrPort(c.UDPConn)})
	enc, _ := egressKeyPair(t)
	e.set(enc, e.route)
	e.set(enc, e.route)
	e.set(enc, route{})
	e.Disconnect()
	e.set(&egressKeys{viaPion: true}, route{})
	want := []Path{PathShared, PathICE, PathNone, PathPion}
	if !slices.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
}

// TestRTCPFollowsThePath: the subscriber's SRTCP that comes to the shared
// socket of the path is decrypted there and handed to Config.RTCP; a
// packet that does not decrypt is dropped and told; once the path leaves
// the socket, its RTCP is read as any datagram, by pion.
func TestRTCPFollowsThePath(t *testing.T) {
	c := newSocket(t)
	sub := receivers(t, 1)[0]
	const profile = srtp.ProtectionProfileAeadAes128Gcm
	key, salt := make([]byte, 16), make([]byte, 12)
	_, _ = rand.Read(key)
	_, _ = rand.Read(salt)
	subEnc, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []rtcp.Packet, 4)
	dropped := make(chan struct{}, 4)
	e, err := Static(Config{
		RTCP:        func(pkts []rtcp.Packet, _, _ []byte) { got <- pkts },
		RTCPDropped: func() { dropped <- struct{}{} },
	}, profile, srtp.SessionKeys{LocalMasterKey: key, LocalMasterSalt: salt, RemoteMasterKey: key, RemoteMasterSalt: salt},
		c, addrPort(sub))
	if err != nil {
		t.Fatal(err)
	}
	toPion := make(chan []byte, 4)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFromAddrPort(buf)
			if err != nil {
				return
			}
			toPion <- slices.Clone(buf[:n])
		}
	}()
	pli, _ := (&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 42}).Marshal()
	send := func() []byte {
		t.Helper()
		sealed, err := subEnc.EncryptRTCP(nil, pli, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sub.WriteToUDPAddrPort(sealed, addrPort(c.UDPConn)); err != nil {
			t.Fatal(err)
		}
		return sealed
	}
	sealed := send()
	select {
	case pkts := <-got:
		if p, ok := pkts[0].(*rtcp.PictureLossIndication); !ok || p.MediaSSRC != 42 {
			t.Fatalf("handed %v", pkts)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the subscriber's RTCP was not handed over")
	}
	if _, err := sub.WriteToUDPAddrPort(sealed, addrPort(c.UDPConn)); err != nil { // a replay
		t.Fatal(err)
	}
	select {
	case <-dropped:
	case <-time.After(5 * time.Second):
		t.Fatal("a replay was not dropped")
	}
	e.set(e.keys, route{})
	sealed = send()
	select {
	case b := <-toPion:
		if !bytes.Equal(b, sealed) {
			t.Fatalf("pion read %x, want %x", b, sealed)
		}
	case <-got:
		t.Fatal("RTCP handed over once the path left the socket")
	case <-time.After(5 * time.Second):
		t.Fatal("pion read nothing once the path left the socket")
	}
}
