// Package egress sends a subscribe connection's media around pion's
// write path: it takes the connection's SRTP keys from pion's unexported
// fields, seals RTP itself, and writes to the shared UDP socket ICE
// selected (or to the connection's ICE connection); it reads the
// subscriber's SRTCP where that socket is read. Everything in meetd that
// reads pion's internals, by reflection or unsafe, is here; the system
// calls are in internal/udpbatch. internal/sfu uses a Conn only when
// configured to (-fast-egress); pion's own write path is the default, and
// what a Conn falls back to. docs/media-path.md tells what this saves and
// the rule about pion it depends on.
package egress

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/udpbatch"
)

// Conn sends the media of one subscribe connection. It encrypts each
// packet with the connection's SRTP keys itself and, when ICE selected a
// path on one of the shared UDP sockets, queues it on that socket for the
// remote address; otherwise it hands it to Config.Enqueue for the
// connection's ICE connection. That skips most of pion's write path (its
// track writer, the SRTP session's lock, buffer pool and per-SSRC map,
// the packet mux, and ICE's per-write checks).
//
// pion exposes neither the SRTP keys nor the transports' connections, so
// Conn reads them from the unexported fields of the pinned pion version
// (see internals). If a pion version lacks them, New returns nil; if the
// keys cannot be derived, writes return handled false: in both cases the
// down tracks write through pion.
//
// Every RTP packet of the connection's down tracks goes through one
// Conn, so the SRTP state of each SSRC (its rollover counter) is one,
// even when a sender's track is replaced; so does the RTCP meetd sends
// (its sender reports), for the same reason: one SRTCP index per SSRC.
//
// The subscriber's RTCP (receiver reports, keyframe requests, NACKs) is
// read by the Conn too while the path is on a shared socket: the
// socket's reader decrypts it and hands it to Config.RTCP (see
// ReceiveRTCP), instead of passing it through five of pion's goroutines.
type Conn struct {
	// path is how packets go, nil until DTLS is connected and again once
	// it closes: packets are then dropped, as pion drops them. One load
	// gives a packet all it needs: a fan-out meets each subscriber's
	// state cold in the processor's cache, and every pointer followed
	// costs a miss.
	path atomic.Pointer[egressPath]
	// mu guards the SRTP state within path's context: the down tracks of
	// a connection are written by several read loops and RTCP readers.
	mu sync.Mutex
	// rmu guards the SRTCP state within path's remote context.
	rmu sync.Mutex
	// hdr is where pion's context parses a header it encrypts; mu guards
	// it.
	hdr rtp.Header

	cfg   Config
	conns []*udpbatch.Conn
	// dt and it are the connection's transports, nil for a Static Conn.
	dt *webrtc.DTLSTransport
	it *webrtc.ICETransport
	// state guards keys, route, counted and listening, from which path
	// is made.
	state   sync.Mutex
	keys    *egressKeys
	route   route
	counted Path
	// listening is the route whose socket hands c the subscriber's RTCP.
	listening route
}

// Config is what a Conn sends with and reports to.
type Config struct {
	// Sockets are the shared UDP sockets (nil for none).
	Sockets *udpbatch.Sockets
	Log     *slog.Logger
	// Enqueue takes a packet for the connection's ICE transport, a path
	// that can block, and returns its length, or 0 when it was dropped.
	Enqueue func(b []byte, video bool, to io.Writer) int
	// RTCP handles the subscriber's RTCP read at a shared socket, on the
	// socket's reader; scratch (MaxPacket bytes) and buf (room to
	// encrypt a packet in) are its to use until it returns.
	RTCP func(pkts []rtcp.Packet, scratch, buf []byte)
	// RTCPDropped is told of the subscriber's SRTCP dropped at the
	// socket: it did not decrypt (forged, or a replay) or parse.
	RTCPDropped func()
	// Path is told how the Conn sends, whenever that changes. It is
	// called with the Conn's lock held and must not call the Conn.
	Path func(Path)
}

// Path is how a Conn sends now.
type Path int

// Paths.
const (
	// PathNone: DTLS is not connected, or closed.
	PathNone Path = iota
	// PathShared: sealed and queued on a shared UDP socket.
	PathShared
	// PathICE: sealed and handed to Config.Enqueue for the ICE
	// connection (TCP, or a socket of the connection's own).
	PathICE
	// PathPion: pion's write path, as the keys could not be had.
	PathPion
)

// route is a destination on a shared UDP socket; conn is nil for none.
type route struct {
	conn *udpbatch.Conn
	addr netip.AddrPort
}

// egressKeys is what a connected DTLS transport gives a Conn.
type egressKeys struct {
	// viaPion makes down tracks write through pion: the keys could not
	// be had.
	viaPion bool
	// ctx encrypts meetd's RTCP, and its RTP when seal is nil (a profile
	// other than AES-GCM).
	ctx  *srtp.Context
	seal *rtpSealer
	// remote decrypts the subscriber's SRTCP.
	remote *srtp.Context
	ice    *ice.Conn
}

// egressPath is a Conn's keys and route together. Without a route,
// packets go through ice.
type egressPath struct {
	egressKeys
	route
	// cipher and cipherSize are the sealer's cipher state, here so that a
	// fan-out can ask for it without reading the sealer (prefetch.go).
	cipher     unsafe.Pointer
	cipherSize uintptr
}

// update makes the path from the keys and route, and tells Config.Path
// of a change. state must be held.
func (e *Conn) update() {
	var p *egressPath
	now := PathNone
	if e.keys != nil {
		p = &egressPath{egressKeys: *e.keys, route: e.route}
		if p.seal != nil {
			p.cipher, p.cipherSize = p.seal.cipherState()
		}
		switch {
		case p.viaPion:
			now = PathPion
		case p.conn != nil:
			now = PathShared
		default:
			now = PathICE
		}
	}
	e.path.Store(p)
	e.listen(p)
	if now == e.counted {
		return
	}
	e.counted = now
	if e.cfg.Path != nil {
		e.cfg.Path(now)
	}
}

// listen makes the shared socket of p's route, if any, hand e the
// subscriber's RTCP, and the socket of the route before stop. state must
// be held.
func (e *Conn) listen(p *egressPath) {
	var want route
	if p != nil && p.conn != nil && p.remote != nil {
		want = p.route
	}
	if want == e.listening {
		return
	}
	if e.listening.conn != nil {
		e.listening.conn.Unlisten(e.listening.addr, e)
	}
	if want.conn != nil {
		want.conn.Listen(want.addr, e)
	}
	e.listening = want
}

// MaxOverhead is the most SRTP adds to an RTP packet: an AEAD tag of 16
// bytes (an HMAC tag takes 10), with room for a rollover counter. A
// buffer to encrypt in has this much room beyond the packet.
const MaxOverhead = 32

// MaxPacket is the largest packet a Conn sends, before encryption.
const MaxPacket = udpbatch.MaxDatagram

// internals are the unexported fields Conn reads: the DTLS transport's
// connection (for the keys), the ICE transport's connection (to write to
// when the path is not a shared socket), and which end of the DTLS
// handshake meetd was (which half of the keys is its own).
var internals = sync.OnceValue(func() bool {
	has := func(t reflect.Type, name string, want reflect.Type) bool {
		f, ok := t.FieldByName(name)
		return ok && f.Type == want
	}
	return has(reflect.TypeFor[webrtc.DTLSTransport](), "conn", reflect.TypeFor[*dtls.Conn]()) &&
		has(reflect.TypeFor[webrtc.ICETransport](), "conn", reflect.TypeFor[*ice.Conn]()) &&
		has(reflect.TypeFor[dtls.State](), "isClient", reflect.TypeFor[bool]())
})

// Available reports whether this pion version has what a Conn reads.
func Available() bool { return internals() }

// New makes the Conn of pc, a subscribe connection just created, or
// returns nil when down tracks must write through pion: the pion version
// lacks what Conn reads (Available). The caller tells it when DTLS
// connects and closes (Connect, Disconnect).
func New(pc *webrtc.PeerConnection, cfg Config) *Conn {
	if !internals() {
		return nil
	}
	e := newConn(cfg)
	e.dt = pc.SCTP().Transport()
	e.it = e.dt.ICETransport()
	e.it.OnSelectedCandidatePairChange(e.pairChanged)
	return e
}

func newConn(cfg Config) *Conn {
	e := &Conn{cfg: cfg}
	if cfg.Sockets != nil {
		e.conns = cfg.Sockets.Conns
	}
	if e.cfg.Log == nil {
		e.cfg.Log = slog.New(slog.DiscardHandler)
	}
	return e
}

// Static makes a Conn of no peer connection that seals with keys, of
// profile, and sends to addr on conn, as one whose DTLS and ICE came up
// would: for tests and benchmarks of what sends through it.
func Static(cfg Config, profile srtp.ProtectionProfile, keys srtp.SessionKeys, conn *udpbatch.Conn, addr netip.AddrPort) (*Conn, error) {
	k, err := newEgressKeys(profile, keys)
	if err != nil {
		return nil, err
	}
	e := newConn(cfg)
	e.state.Lock()
	defer e.state.Unlock()
	e.keys, e.route = k, route{conn: conn, addr: addr}
	e.update()
	return e, nil
}

// Connect takes the SRTP keys of the connection's DTLS transport, which
// just connected. pion calls the transport's state handler with its lock
// held: only fields are read here, not its methods.
func (e *Conn) Connect() {
	e.state.Lock()
	defer e.state.Unlock()
	if e.keys == nil && e.dt != nil {
		e.keys = e.connect(e.dt, e.it)
	}
	e.update()
}

// Disconnect drops the keys: DTLS closed or failed. What is written from
// now on is dropped, as pion drops it.
func (e *Conn) Disconnect() {
	e.state.Lock()
	defer e.state.Unlock()
	e.keys = nil
	e.update()
}

// connect derives meetd's SRTP keys of the connection from its DTLS
// connection.
func (e *Conn) connect(dt *webrtc.DTLSTransport, it *webrtc.ICETransport) *egressKeys {
	conn := (*dtls.Conn)(reflect.ValueOf(dt).Elem().FieldByName("conn").UnsafePointer())
	iceConn := (*ice.Conn)(reflect.ValueOf(it).Elem().FieldByName("conn").UnsafePointer())
	if conn == nil || iceConn == nil {
		e.cfg.Log.Warn("SRTP keys not found: media goes through pion's write path")
		return &egressKeys{viaPion: true}
	}
	keys, err := srtpKeys(conn)
	if err != nil {
		e.cfg.Log.Warn("SRTP keys not derived: media goes through pion's write path", "err", err)
		return &egressKeys{viaPion: true}
	}
	keys.ice = iceConn
	return keys
}

// srtpKeys are the SRTP keys of conn: meetd's own, which it encrypts
// with, and the peer's, which decrypt the peer's SRTCP.
func srtpKeys(conn *dtls.Conn) (*egressKeys, error) {
	profile, keys, err := dtlsSessionKeys(conn)
	if err != nil {
		return nil, err
	}
	return newEgressKeys(profile, keys)
}

// dtlsSessionKeys are the SRTP profile and keys conn negotiated.
func dtlsSessionKeys(conn *dtls.Conn) (srtp.ProtectionProfile, srtp.SessionKeys, error) {
	state, ok := conn.ConnectionState()
	if !ok {
		return 0, srtp.SessionKeys{}, errNoDTLSState
	}
	dp, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return 0, srtp.SessionKeys{}, webrtc.ErrNoSRTPProtectionProfile
	}
	var profile srtp.ProtectionProfile
	switch dp {
	case dtls.SRTP_AEAD_AES_128_GCM:
		profile = srtp.ProtectionProfileAeadAes128Gcm
	case dtls.SRTP_AEAD_AES_256_GCM:
		profile = srtp.ProtectionProfileAeadAes256Gcm
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80:
		profile = srtp.ProtectionProfileAes128CmHmacSha1_80
	default:
		return 0, srtp.SessionKeys{}, webrtc.ErrNoSRTPProtectionProfile
	}
	isClient := reflect.ValueOf(&state).Elem().FieldByName("isClient").Bool()
	cfg := srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, isClient); err != nil {
		return 0, srtp.SessionKeys{}, err
	}
	return profile, cfg.Keys, nil
}

// newEgressKeys makes the contexts and sealer of keys.
func newEgressKeys(profile srtp.ProtectionProfile, keys srtp.SessionKeys) (*egressKeys, error) {
	local, err := srtp.CreateContext(keys.LocalMasterKey, keys.LocalMasterSalt, profile)
	if err != nil {
		return nil, err
	}
	seal, err := newRTPSealer(profile, keys.LocalMasterKey, keys.LocalMasterSalt)
	if err != nil {
		return nil, err
	}
	remote, err := srtp.CreateContext(keys.RemoteMasterKey, keys.RemoteMasterSalt, profile,
		srtp.SRTCPReplayProtection(srtcpReplayWindow))
	if err != nil {
		return nil, err
	}
	return &egressKeys{ctx: local, seal: seal, remote: remote}, nil
}

// srtcpReplayWindow is how many SRTCP packets back a replay is caught, as
// pion's sessions default to.
const srtcpReplayWindow = 64

var errNoDTLSState = errors.New("DTLS connection has no state")

// pairChanged follows ICE's selected candidate pair.
func (e *Conn) pairChanged(p *webrtc.ICECandidatePair) {
	r := routeFor(e.conns, p)
	e.state.Lock()
	e.route = r
	e.update()
	e.state.Unlock()
	e.cfg.Log.Debug("media path", "pair", p.String(), "shared_socket", r.conn != nil)
}

// routeFor is the shared socket and remote address of pair p, none when p
// is not on a shared socket (TCP, or a socket of the connection's own).
func routeFor(conns []*udpbatch.Conn, p *webrtc.ICECandidatePair) route {
	if p == nil || p.Local == nil || p.Remote == nil ||
		p.Local.Protocol != webrtc.ICEProtocolUDP || p.Remote.Protocol != webrtc.ICEProtocolUDP {
		return route{}
	}
	remoteIP, err := netip.ParseAddr(p.Remote.Address)
	if err != nil {
		return route{}
	}
	localAddr, localPort := p.Local.Address, p.Local.Port
	if p.Local.Typ != webrtc.ICECandidateTypeHost && p.Local.RelatedAddress != "" {
		localAddr, localPort = p.Local.RelatedAddress, p.Local.RelatedPort
	}
	localIP, err := netip.ParseAddr(localAddr)
	if err != nil {
		return route{}
	}
	local := netip.AddrPortFrom(localIP.Unmap(), localPort)
	remote := netip.AddrPortFrom(remoteIP.Unmap(), p.Remote.Port)
	// The socket bound to the candidate's address; failing that (a host
	// candidate given a public address), the only one on its port and
	// of its family.
	var byPort *udpbatch.Conn
	n := 0
	for _, c := range conns {
		ua, ok := c.LocalAddr().(*net.UDPAddr)
		if !ok {
			continue
		}
		addr := ua.AddrPort()
		addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
		if addr == local {
			return route{conn: c, addr: remote}
		}
		if addr.Port() == localPort && addr.Addr().Is4() == localIP.Is4() {
			byPort = c
			n++
		}
	}
	if n == 1 && byPort.IPv6() != remote.Addr().Is4() {
		return route{conn: byPort, addr: remote}
	}
	return route{}
}

// WriteRTP encrypts and sends one RTP packet, of video or audio, in buf,
// which has room for MaxPacket bytes and MaxOverhead. On a shared socket
// it is queued in q, the caller's own batch, or, when q is nil, in the
// socket's. handled is false when the packet is to go through pion
// instead. n is 0 while DTLS is not connected, and when the packet was
// dropped.
func (e *Conn) WriteRTP(h *rtp.Header, payload []byte, video bool, buf []byte, q *udpbatch.Queue) (n int, handled bool, err error) {
	p := e.path.Load()
	if p == nil {
		return 0, true, nil
	}
	if p.viaPion {
		return 0, false, nil
	}
	hn, err := h.MarshalTo(buf)
	if err != nil || hn+len(payload) > len(buf)-MaxOverhead {
		return 0, true, errPacketTooLarge
	}
	copy(buf[hn:], payload)
	// Only the sealing holds mu: the send does not, so that the fan-outs
	// of a connection's other tracks (other goroutines, walking the
	// subscribers in the same order) do not queue behind a batch's
	// sendmmsg. A stream's packets have one writer (its fan-out's
	// goroutine; retransmissions aside), so they keep their order.
	var out []byte
	e.mu.Lock()
	if p.seal != nil {
		out, err = p.seal.seal(buf, hn, len(payload), h.SSRC, h.SequenceNumber)
	} else {
		out, err = p.ctx.EncryptRTP(buf[:0], buf[:hn+len(payload)], &e.hdr)
	}
	e.mu.Unlock()
	if err != nil {
		return 0, true, err
	}
	if p.conn == nil {
		return e.cfg.Enqueue(out, video, p.ice), true, nil
	}
	if q != nil {
		n, err = q.Send(p.conn, out, p.addr)
	} else {
		n, err = p.conn.Send(out, p.addr)
	}
	return n, true, err
}

// WriteRTCP encrypts and sends raw, RTCP from meetd, in buf, as WriteRTP
// sends RTP: with the one SRTCP context of the connection's SSRCs.
// handled is false when it is to go through pion instead.
func (e *Conn) WriteRTCP(raw, buf []byte) (n int, handled bool, err error) {
	p := e.path.Load()
	if p == nil {
		return 0, true, nil
	}
	if p.viaPion {
		return 0, false, nil
	}
	if len(raw) > len(buf)-MaxOverhead {
		return 0, true, errPacketTooLarge
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out, err := p.ctx.EncryptRTCP(buf[:0], raw, nil)
	if err != nil {
		return 0, true, err
	}
	if p.conn == nil {
		return e.cfg.Enqueue(out, false, p.ice), true, nil
	}
	n, err = p.conn.Send(out, p.addr)
	return n, true, err
}

var errPacketTooLarge = errors.New("RTP packet too large")
