package sfu

import (
	"maps"
	"net/netip"

	"github.com/pion/rtcp"
)

// A subscriber's RTCP is about once a second per stream (receiver
// reports), and more on loss (NACKs) or a decoder's trouble (keyframe
// requests). Through pion each packet passes five goroutines: the UDP
// mux's reader, the ICE candidate's, the peer connection's packet mux,
// the SRTCP session and the sender's reader. For a connection whose path
// is on a shared socket, the socket's reader decrypts it instead and
// hands it to the senders it names, on its own goroutine. ICE learns that
// the path is alive from its checks and their answers, which still go to
// pion, as does everything else (STUN, DTLS, and all of a connection's
// traffic on other paths).

// RTCPRead is where meetd read a subscriber's RTCP packet (a compound
// packet counts once).
type RTCPRead int

// Where RTCP is read.
const (
	// RTCPAtSocket: decrypted by the shared socket's reader.
	RTCPAtSocket RTCPRead = iota
	// RTCPFromPion: through pion's SRTCP session, on other paths and
	// before meetd has the keys.
	RTCPFromPion
	// RTCPDropped: at the shared socket, a packet that did not decrypt
	// (forged, or a replay) or did not parse.
	RTCPDropped
	numRTCPReads
)

func (r RTCPRead) String() string {
	return [...]string{"shared_socket", "pion", "dropped"}[r]
}

// feedbackBuf is a shared socket reader's space to handle RTCP in.
type feedbackBuf struct {
	plain   [maxPacketSize]byte
	scratch [maxPacketSize]byte
	seal    sealBuf
}

// isRTCP tells RTCP from RTP, STUN and DTLS on a multiplexed socket by
// its first two bytes (RFC 7983, RFC 5761: RTCP's packet types 192-223
// are not RTP payload types in use).
func isRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// listen makes c hand RTCP from addr to e.
func (c *batchConn) listen(addr netip.AddrPort, e *Egress) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	if c.listeners == nil {
		c.listeners = map[netip.AddrPort]*Egress{}
	}
	c.listeners[addr] = e
}

// unlisten undoes listen, unless another Egress listens to addr since.
func (c *batchConn) unlisten(addr netip.AddrPort, e *Egress) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	if c.listeners[addr] == e {
		delete(c.listeners, addr)
	}
}

// handleRTCP hands b, a datagram from addr, to the Egress listening to
// addr if it is RTCP; false when it is for pion.
func (c *batchConn) handleRTCP(b []byte, addr netip.AddrPort) bool {
	if !isRTCP(b) {
		return false
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	c.lmu.Lock()
	e := c.listeners[addr]
	c.lmu.Unlock()
	return e != nil && e.receive(b, &c.fb)
}

// addSender makes the subscriber's RTCP about ssrc go to s.
func (e *Egress) addSender(ssrc uint32, s *Sender) {
	e.state.Lock()
	defer e.state.Unlock()
	m := map[uint32]*Sender{}
	if old := e.senders.Load(); old != nil {
		m = maps.Clone(*old)
	}
	m[ssrc] = s
	e.senders.Store(&m)
}

// removeSender undoes addSender.
func (e *Egress) removeSender(ssrc uint32, s *Sender) {
	e.state.Lock()
	defer e.state.Unlock()
	old := e.senders.Load()
	if old == nil || (*old)[ssrc] != s {
		return
	}
	m := maps.Clone(*old)
	delete(m, ssrc)
	e.senders.Store(&m)
}

// receive handles pkt, an SRTCP packet from the subscriber that came on
// the shared socket of e's path, as pion would: the whole compound
// packet goes to each sender whose SSRC it names. It is false when pion
// must take the packet: e has no keys (now).
func (e *Egress) receive(pkt []byte, fb *feedbackBuf) bool {
	p := e.path.Load()
	if p == nil || p.remote == nil {
		return false
	}
	reads := &e.counters.rtcpRead
	e.rmu.Lock()
	plain, err := p.remote.DecryptRTCP(fb.plain[:0], pkt, nil)
	e.rmu.Unlock()
	if err != nil {
		reads[RTCPDropped].Add(1)
		e.log.Debug("subscriber RTCP dropped", "err", err)
		return true
	}
	pkts, err := rtcp.Unmarshal(plain)
	if err != nil {
		reads[RTCPDropped].Add(1)
		e.log.Debug("subscriber RTCP dropped", "err", err)
		return true
	}
	reads[RTCPAtSocket].Add(1)
	senders := e.senders.Load()
	if senders == nil {
		return true
	}
	var done [4]*Sender
	handled := done[:0]
	for _, pk := range pkts {
		for _, ssrc := range pk.DestinationSSRC() {
			s := (*senders)[ssrc]
			if s == nil || containsSender(handled, s) {
				continue
			}
			handled = append(handled, s)
			s.handle(pkts, fb.scratch[:], &fb.seal)
		}
	}
	return true
}

func containsSender(ss []*Sender, s *Sender) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
