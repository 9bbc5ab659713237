package udpbatch

import "net/netip"

// Listener takes the RTCP that comes to a socket from one remote address,
// which pion would read otherwise: meetd's egress of a subscribe
// connection, which decrypts and handles its subscriber's RTCP where the
// socket is read instead of passing it through pion's goroutines.
type Listener interface {
	// ReceiveRTCP handles pkt, an RTCP datagram from the listener's
	// address, on the socket's reader. It is false when pion is to read
	// it after all. scratch is the reader's space for the listener to
	// work in, valid until it returns.
	ReceiveRTCP(pkt []byte, scratch *Scratch) bool
}

// Scratch is a socket reader's working space, lent to a Listener.
type Scratch [4 * MaxDatagram]byte

// isRTCP tells RTCP from RTP, STUN and DTLS on a multiplexed socket by
// its first two bytes (RFC 7983, RFC 5761: RTCP's packet types 192-223
// are not RTP payload types in use).
func isRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// isRTPOrRTCP tells RTP and RTCP from STUN and DTLS (RFC 7983).
func isRTPOrRTCP(b []byte) bool {
	return len(b) > 0 && b[0] >= 128 && b[0] <= 191
}

// Listen makes c hand the RTCP from addr to l.
func (c *Conn) Listen(addr netip.AddrPort, l Listener) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	if c.listeners == nil {
		c.listeners = map[netip.AddrPort]Listener{}
	}
	c.listeners[addr] = l
	c.listening.Store(int32(len(c.listeners)))
}

// Unlisten undoes Listen, unless another listener took addr since.
func (c *Conn) Unlisten(addr netip.AddrPort, l Listener) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	if c.listeners[addr] == l {
		delete(c.listeners, addr)
	}
	c.listening.Store(int32(len(c.listeners)))
}

// listener is the listener of addr, nil for none.
func (c *Conn) listener(addr netip.AddrPort) Listener {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return c.listeners[addr]
}

// handleRTCP hands b, a datagram from addr, to the listener of addr if it
// is RTCP; false when it is for pion.
func (c *Conn) handleRTCP(b []byte, addr netip.AddrPort) bool {
	if !isRTCP(b) {
		return false
	}
	l := c.listener(addr)
	return l != nil && l.ReceiveRTCP(b, &c.scratch)
}

// notePion counts b, which pion writes to addr, if it is RTP or RTCP to
// the address of a listener. meetd's egress sends all of that
// subscriber's RTP and RTCP with its own SRTP state, so pion must send
// none (see internal/sfu/api.go): if a pion version did, the subscriber
// would get two streams of SRTCP indexes, and drop one as replays. It is
// logged once per socket, as the fast egress must then be turned off.
func (c *Conn) notePion(b []byte, addr netip.AddrPort) {
	if c.listening.Load() == 0 || !isRTPOrRTCP(b) || c.listener(addr) == nil {
		return
	}
	c.pionMedia.Add(1)
	if !c.warnedPion.Swap(true) {
		c.log.Error("pion wrote RTP or RTCP to a subscriber whose media meetd's egress sends; run meetd with -fast-egress=false",
			"local", c.LocalAddr().String(), "remote", addr.String())
	}
}
