package sfu

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// Egress sends the media of one subscribe connection. It encrypts each
// packet with the connection's SRTP keys itself and, when ICE selected a
// path on one of the shared UDP sockets, queues it on that socket for the
// remote address; otherwise it writes it to the connection's ICE
// connection. That skips most of pion's write path, which cost about a
// microsecond per packet per subscriber (its track writer, the SRTP
// session's lock, buffer pool and per-SSRC map, the packet mux, and ICE's
// per-write checks; see docs/performance.md).
//
// pion exposes neither the SRTP keys nor the transports' connections, so
// Egress reads them from the unexported fields of the pinned pion version
// (see internals). If a pion version lacks them, NewEgress returns nil and
// down tracks write through pion, as do those of an Egress whose keys
// could not be derived.
//
// Every RTP packet of the connection's down tracks goes through one
// Egress, so the SRTP state of each SSRC (its rollover counter) is one,
// even when a sender's track is replaced; so does the RTCP meetd sends
// (its sender reports), for the same reason: one SRTCP index per SSRC.
//
// The subscriber's RTCP (receiver reports, keyframe requests, NACKs) is
// read by the Egress too while the path is on a shared socket: the
// socket's reader decrypts it and hands it to the senders it names (see
// receive), instead of passing it through five of pion's goroutines.
type Egress struct {
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
	// senders are the connection's senders by SSRC, for its RTCP read at
	// a shared socket; replaced whole, under state.
	senders atomic.Pointer[map[uint32]*Sender]

	log   *slog.Logger
	conns []*batchConn
	// counters counts the API's connections by how they send, and the
	// subscribers' RTCP by where it was read.
	counters *Counters
	// state guards keys, route, counted and listening, from which path
	// is made, and changes to senders.
	state   sync.Mutex
	keys    *egressKeys
	route   route
	counted SendPath
	// listening is the route whose socket hands e the subscriber's RTCP.
	listening route
	// viaPion makes the connection write through pion once connected
	// (Config.PionWritePath).
	viaPion bool

	// queue holds what goes through ICE or pion, paths that can block
	// (see QueueLimits); a shared socket's path never does.
	queue sendQueue
	// onStall is told, once, that the queue stayed backed up too long.
	onStall   func()
	stallOnce sync.Once
}

// route is a destination on a shared UDP socket; conn is nil for none.
type route struct {
	conn *batchConn
	addr netip.AddrPort
}

// egressKeys is what a connected DTLS transport gives an Egress.
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

// egressPath is an Egress's keys and route together. Without a route,
// packets go through ice.
type egressPath struct {
	egressKeys
	route
	// cipher and cipherSize are the sealer's cipher state, here so that a
	// fan-out can ask for it without reading the sealer (prefetch.go).
	cipher     unsafe.Pointer
	cipherSize uintptr
}

// update makes the path from the keys and route, and counts the
// connection by it. state must be held.
func (e *Egress) update() {
	var p *egressPath
	now := SendNone
	if e.keys != nil {
		p = &egressPath{egressKeys: *e.keys, route: e.route}
		if p.seal != nil {
			p.cipher, p.cipherSize = p.seal.cipherState()
		}
		switch {
		case p.viaPion:
			now = SendPion
		case p.conn != nil:
			now = SendShared
		default:
			now = SendICE
		}
	}
	e.path.Store(p)
	e.listen(p)
	if now == e.counted {
		return
	}
	paths := &e.counters.sendPaths
	if e.counted != SendNone {
		paths[e.counted].Add(-1)
	}
	if now != SendNone {
		paths[now].Add(1)
	}
	e.counted = now
}

// listen makes the shared socket of p's route, if any, hand e the
// subscriber's RTCP, and the socket of the route before stop. state must
// be held.
func (e *Egress) listen(p *egressPath) {
	var want route
	if p != nil && p.conn != nil && p.remote != nil {
		want = p.route
	}
	if want == e.listening {
		return
	}
	if e.listening.conn != nil {
		e.listening.conn.unlisten(e.listening.addr, e)
	}
	if want.conn != nil {
		want.conn.listen(want.addr, e)
	}
	e.listening = want
}

// sealBuf is where a packet is encrypted. Each goroutine that sends keeps
// one (a track's read loop, a down track's RTCP reader) and encrypts the
// packets of all its subscribers in it: it stays in the processor's cache,
// where a buffer per subscriber would not.
type sealBuf struct {
	hdr rtp.Header
	buf [maxPacketSize + srtpMaxOverhead]byte
}

// srtpMaxOverhead is the most SRTP adds to an RTP packet: an AEAD tag of
// 16 bytes (an HMAC tag takes 10), with room for a rollover counter.
const srtpMaxOverhead = 32

// internals are the unexported fields Egress reads: the DTLS transport's
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

// NewEgress makes the Egress of pc, a subscribe connection just created,
// or returns nil when down tracks must write through pion: the pion
// version lacks what Egress reads (NewAPI said so).
func (a *API) NewEgress(pc *webrtc.PeerConnection, log *slog.Logger) *Egress {
	if !internals() {
		return nil
	}
	dt := pc.SCTP().Transport()
	it := dt.ICETransport()
	e := &Egress{log: log, conns: a.batch.conns, counters: &a.counters, viaPion: a.pionWrites}
	e.queue.limits = a.queueLimits
	it.OnSelectedCandidatePairChange(e.pairChanged)
	dt.OnStateChange(func(st webrtc.DTLSTransportState) {
		// pion calls this holding the transport's lock: only fields are
		// read here, not its methods.
		e.state.Lock()
		defer e.state.Unlock()
		switch st {
		case webrtc.DTLSTransportStateConnected:
			if e.keys == nil {
				e.keys = e.connect(dt, it)
			}
		case webrtc.DTLSTransportStateClosed, webrtc.DTLSTransportStateFailed:
			e.keys = nil
			e.queue.close()
		}
		e.update()
	})
	return e
}

// connect derives meetd's SRTP keys of the connection from its DTLS
// connection.
func (e *Egress) connect(dt *webrtc.DTLSTransport, it *webrtc.ICETransport) *egressKeys {
	if e.viaPion {
		return &egressKeys{viaPion: true}
	}
	conn := (*dtls.Conn)(reflect.ValueOf(dt).Elem().FieldByName("conn").UnsafePointer())
	iceConn := (*ice.Conn)(reflect.ValueOf(it).Elem().FieldByName("conn").UnsafePointer())
	if conn == nil || iceConn == nil {
		e.log.Warn("SRTP keys not found: media goes through pion's write path")
		return &egressKeys{viaPion: true}
	}
	keys, err := srtpKeys(conn)
	if err != nil {
		e.log.Warn("SRTP keys not derived: media goes through pion's write path", "err", err)
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
func (e *Egress) pairChanged(p *webrtc.ICECandidatePair) {
	r := routeFor(e.conns, p)
	e.state.Lock()
	e.route = r
	e.update()
	e.state.Unlock()
	e.log.Debug("media path", "pair", p.String(), "shared_socket", r.conn != nil)
}

// routeFor is the shared socket and remote address of pair p, none when p
// is not on a shared socket (TCP, or a socket of the connection's own).
func routeFor(conns []*batchConn, p *webrtc.ICECandidatePair) route {
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
	var byPort *batchConn
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
	if n == 1 && byPort.v6 != remote.Addr().Is4() {
		return route{conn: byPort, addr: remote}
	}
	return route{}
}

// write encrypts and sends one RTP packet, in sb, of video or audio. ok
// is false when the packet is to go through pion instead. n is 0 while
// DTLS is not connected, and when the packet was dropped.
func (e *Egress) write(h *rtp.Header, payload []byte, sb *sealBuf, video bool) (n int, ok bool, err error) {
	p := e.path.Load()
	if p == nil {
		return 0, true, nil
	}
	if p.viaPion {
		return 0, false, nil
	}
	hn, err := h.MarshalTo(sb.buf[:])
	if err != nil || hn+len(payload) > maxPacketSize {
		return 0, true, errPacketTooLarge
	}
	copy(sb.buf[hn:], payload)
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []byte
	if p.seal != nil {
		out, err = p.seal.seal(sb.buf[:], hn, len(payload), h.SSRC, h.SequenceNumber)
	} else {
		out, err = p.ctx.EncryptRTP(sb.buf[:0], sb.buf[:hn+len(payload)], &sb.hdr)
	}
	if err != nil {
		return 0, true, err
	}
	if p.conn == nil {
		return e.enqueue(out, video, p.ice, nil), true, nil
	}
	n, err = p.conn.write(out, p.addr)
	return n, true, err
}

// writeRTCP encrypts and sends raw, RTCP from meetd, as write sends RTP:
// with the one SRTCP context of the connection's SSRCs. ok is false when
// it is to go through pion instead.
func (e *Egress) writeRTCP(raw []byte, sb *sealBuf) (n int, ok bool, err error) {
	p := e.path.Load()
	if p == nil {
		return 0, true, nil
	}
	if p.viaPion {
		return 0, false, nil
	}
	if len(raw) > maxPacketSize {
		return 0, true, errPacketTooLarge
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out, err := p.ctx.EncryptRTCP(sb.buf[:0], raw, nil)
	if err != nil {
		return 0, true, err
	}
	if p.conn == nil {
		return e.enqueue(out, false, p.ice, nil), true, nil
	}
	n, err = p.conn.write(out, p.addr)
	return n, true, err
}

var errPacketTooLarge = errors.New("RTP packet too large")
