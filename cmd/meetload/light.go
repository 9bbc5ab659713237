package main

// Light viewers. A full load client runs a pion stack per subscriber
// (ICE, DTLS, SRTP, interceptors, a goroutine per track): a few hundred
// take this machine's two cores, so they cannot load meetd with
// thousands. A light viewer runs pion only for its handshake: once ICE
// and DTLS are up on the subscribe connection, it takes the SRTP keys
// (internal/egress reads them), takes the connection's UDP socket away
// from pion, closes pion's connection (what pion would send then is
// dropped, so meetd sees nothing of it), and from then on a few reader
// goroutines count what arrives on all the viewers' sockets with batched
// reads (lightread.go). A light viewer answers meetd's ICE checks, so that
// meetd keeps the path up; checks sequence numbers on every packet, which
// SRTP leaves in the clear; and decrypts one packet in lightSample, which
// checks that meetd's SRTP is right and gives a latency sample. It sends
// no RTCP: no receiver reports, NACKs or keyframe requests.
//
// Each viewer has a socket of its own, so a datagram's 5-tuple names its
// viewer: on loopback the local ports bound how many there can be, about
// 28,000 per address; viewers take addresses 127.0.0.1, 127.0.0.2, ... in
// turns of lightPerAddr. Each viewer holds two descriptors (its socket and
// its WebSocket), and meetd one; the tool raises its limit on open files
// to the hard limit and refuses a run that would not fit.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/srtp/v3"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
	"golang.org/x/sys/unix"

	"github.com/meetd/meetd/internal/egress"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// lightPerAddr is how many light viewers bind one loopback address before
// the next takes over: well within the ephemeral port range (32768-60999
// by default), which the WebSockets share.
const lightPerAddr = 10000

// lightSample is how often a light viewer decrypts a packet: one in this
// many of each viewer's.
const lightSample = 64

// lightAddr is the loopback address light viewer i binds.
func lightAddr(i int) netip.Addr {
	b := netip.MustParseAddr("127.0.0.1").As4()
	b[3] += byte(i / lightPerAddr)
	return netip.AddrFrom4(b)
}

// lightViewer is one light viewer: its socket, once pion has let go of it,
// and what it counts.
type lightViewer struct {
	r *receiver
	// fd is the viewer's socket, the reader's after the handshake.
	fd int
	// pwd is the viewer's ICE password, which its answers to meetd's
	// checks are signed with.
	pwd string
	// dec decrypts the sampled packets; the reader's.
	dec *srtp.Context
	// overhead is what SRTP adds to an RTP packet (its tag);
	// profileName names the SRTP profile, as pion's stats do.
	overhead    int
	profileName string
	// videoPT is the payload type of the video meetd offered.
	videoPT uint8
	// tracks are the viewer's streams by SSRC, in the order they came;
	// the reader's.
	tracks [4]lightTrack
	ntrack int
	// packets counts what arrived, for sampling; the reader's.
	packets uint64
	// undecryptable counts sampled packets that did not decrypt, checks
	// meetd's ICE checks answered.
	undecryptable, checks atomic.Uint64
}

// lightTrack is one stream a light viewer receives.
type lightTrack struct {
	ssrc uint32
	ts   *trackState
}

// handshakeNet is the network a light viewer's pion stack listens with:
// the viewer's one socket, handed over once.
type handshakeNet struct {
	*stdnet.Net
	conn *handshakeConn
	used atomic.Bool
}

// ListenUDP implements transport.Net: the viewer's socket, the first time.
// meetd restarting ICE on the connection would need another, and is
// refused.
func (n *handshakeNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	if n.used.Swap(true) {
		return nil, errors.New("a light viewer has one socket, taken already")
	}
	return n.conn, nil
}

// handshakeConn is a light viewer's socket while pion has it: once
// detached, pion reads nothing more, and what it writes is dropped.
type handshakeConn struct {
	*net.UDPConn
	detached atomic.Bool
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter.
func (c *handshakeConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, addr, err := c.UDPConn.ReadFromUDPAddrPort(b)
	if c.detached.Load() {
		return 0, netip.AddrPort{}, net.ErrClosed
	}
	return n, addr, err
}

// WriteToAddrPort implements ice.AddrPortReaderWriter.
func (c *handshakeConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if c.detached.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteToUDPAddrPort(b, addr)
}

// ReadFrom implements net.PacketConn.
func (c *handshakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

// WriteTo implements net.PacketConn.
func (c *handshakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.detached.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}

// addLightSubscriber connects light viewer i of room: a full handshake,
// then its socket goes to rd.
func (r *run) addLightSubscriber(ctx context.Context, room string, i int, rd *lightReaders) (*subscriber, error) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lightAddr(i), 0)))
	if err != nil {
		return nil, err
	}
	hc := &handshakeConn{UDPConn: conn}
	std, err := stdnet.NewNet()
	if err != nil {
		conn.Close()
		return nil, err
	}
	api, err := lightAPI(&handshakeNet{Net: std, conn: hc})
	if err != nil {
		conn.Close()
		return nil, err
	}
	rc := newReceiver(&r.w)
	// Whatever pion reads before it lets go is dropped: counting starts
	// at the socket.
	c, err := testclient.Dial(ctx, r.srv.url, testclient.Options{API: api, OnTrack: func(*webrtc.TrackRemote) {}})
	if err != nil {
		conn.Close()
		return nil, err
	}
	s := &subscriber{c: c, r: rc}
	r.mu.Lock()
	r.subs = append(r.subs, s)
	r.mu.Unlock()
	if err := joinOrRefused(ctx, c, signal.KindBroadcast, room, signal.RoleAudience); err != nil {
		conn.Close()
		return s, err
	}
	v, err := detach(ctx, c, hc, rc)
	if err != nil {
		conn.Close()
		return s, fmt.Errorf("light viewer %d: %w", i, err)
	}
	s.light = v
	s.profile = v.profileName
	rd.add(v)
	return s, nil
}

// lightAPI is a light viewer's pion API for its handshake: the tool's
// codecs, no interceptors, its one socket.
func lightAPI(n transport.Net) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range []struct {
		kind   webrtc.RTPCodecType
		params webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
		}}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		}}},
	} {
		if err := m.RegisterCodec(c.params, c.kind); err != nil {
			return nil, err
		}
	}
	return testclient.NewAPIWith(testclient.Network{Net: n}, m, nil)
}

// detach waits until the subscribe connection of c has DTLS up, takes its
// keys and its socket from pion, and closes pion's connection.
func detach(ctx context.Context, c *testclient.Client, hc *handshakeConn, rc *receiver) (*lightViewer, error) {
	// The client tells of signalling, not of DTLS: poll.
	var pc *webrtc.PeerConnection
	for {
		pc = c.SubscribeConnection()
		if pc != nil && pc.SCTP().Transport().State() == webrtc.DTLSTransportStateConnected {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for DTLS on the subscribe connection: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	profile, keys, err := egress.SessionKeys(pc)
	if err != nil {
		return nil, err
	}
	dec, err := srtp.CreateContext(keys.RemoteMasterKey, keys.RemoteMasterSalt, profile)
	if err != nil {
		return nil, err
	}
	v := &lightViewer{r: rc, dec: dec, overhead: 16, profileName: profile.String()}
	if profile == srtp.ProtectionProfileAes128CmHmacSha1_80 {
		v.overhead = 10
	}
	if v.pwd = sdpAttr(pc.LocalDescription(), "ice-pwd"); v.pwd == "" {
		return nil, errors.New("no ICE password in the answer")
	}
	if v.videoPT = videoPayloadType(pc.RemoteDescription()); v.videoPT == 0 {
		return nil, errors.New("no video in meetd's offer")
	}
	raw, err := hc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var derr error
	v.fd = -1
	if err := raw.Control(func(fd uintptr) { v.fd, derr = unix.Dup(int(fd)) }); err != nil || derr != nil {
		return nil, errors.Join(err, derr)
	}
	hc.detached.Store(true)
	_ = hc.SetReadDeadline(time.Now()) // pion's reader returns, and reads no more
	_ = pc.Close()
	_ = hc.UDPConn.Close()
	return v, nil
}

// sdpAttr is the first value of attribute name in d ("" for none).
func sdpAttr(d *webrtc.SessionDescription, name string) string {
	if d == nil {
		return ""
	}
	for _, line := range strings.Split(d.SDP, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a="+name+":"); ok {
			return v
		}
	}
	return ""
}

// videoPayloadType is the payload type of the first video codec of d
// (90 kHz clock), 0 for none.
func videoPayloadType(d *webrtc.SessionDescription) uint8 {
	if d == nil {
		return 0
	}
	for _, line := range strings.Split(d.SDP, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=rtpmap:")
		if !ok || !strings.HasSuffix(v, "/90000") {
			continue
		}
		pt, _, _ := strings.Cut(v, " ")
		if n, err := strconv.Atoi(pt); err == nil && n > 0 && n < 128 {
			return uint8(n)
		}
	}
	return 0
}

// raiseFileLimit raises the tool's limit on open files to the hard limit,
// and fails when even that is below need.
func raiseFileLimit(need int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return err
		}
	}
	if lim.Cur < uint64(need) {
		return fmt.Errorf("light viewers need about %d open files, and the limit is %d: raise it (ulimit -Hn, or LimitNOFILE)", need, lim.Cur)
	}
	return nil
}

// lightChecks fails a run whose light viewers did not work as they
// should: a sampled packet that did not decrypt, a socket never read, no
// ICE check of meetd's answered, or meetd offering a second subscribe
// connection (an ICE restart, which a light viewer cannot follow).
func (r *run) lightChecks(subs []*subscriber) error {
	var bad, unanswered, renegotiated, checks uint64
	for _, s := range subs {
		if s == nil || s.light == nil {
			continue
		}
		bad += s.light.undecryptable.Load()
		n := s.light.checks.Load()
		checks += n
		if n == 0 {
			unanswered++
		}
		if s.c.SubscribeConnections() > 1 {
			renegotiated++
		}
	}
	r.cfg.logf("%s: light viewers answered %d ICE checks", r.wl, checks)
	var errs []error
	if bad > 0 {
		errs = append(errs, fmt.Errorf("light viewers: %d sampled packets did not decrypt, or sockets were never read", bad))
	}
	if unanswered > 0 {
		errs = append(errs, fmt.Errorf("light viewers: %d answered no ICE check of meetd's", unanswered))
	}
	if renegotiated > 0 {
		errs = append(errs, fmt.Errorf("light viewers: meetd offered %d of them a new subscribe connection", renegotiated))
	}
	return errors.Join(errs...)
}
