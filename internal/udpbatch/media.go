package udpbatch

import "net/netip"

// MediaListener takes the RTP that comes to a socket from one remote
// address, which pion would read otherwise: meetd's path of a publish
// connection, which decrypts its publisher's RTP where the socket is read
// instead of passing it through pion's goroutines.
type MediaListener interface {
	// ReceiveRTP handles pkt, an RTP datagram from the listener's
	// address, on the socket's reader. It is false when pion is to read
	// it after all.
	ReceiveRTP(pkt []byte) bool
}

// ListenMedia makes c hand the RTP from addr to l.
func (c *Conn) ListenMedia(addr netip.AddrPort, l MediaListener) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	m := map[netip.AddrPort]MediaListener{}
	if old := c.media.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[addr] = l
	c.media.Store(&m)
}

// UnlistenMedia undoes ListenMedia, unless another listener took addr
// since.
func (c *Conn) UnlistenMedia(addr netip.AddrPort, l MediaListener) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	old := c.media.Load()
	if old == nil || (*old)[addr] != l {
		return
	}
	m := make(map[netip.AddrPort]MediaListener, len(*old))
	for k, v := range *old {
		if k != addr {
			m[k] = v
		}
	}
	c.media.Store(&m)
}

// handleMedia hands b, a datagram from addr, to the media listener of
// addr if it is RTP; false when it is for pion.
func (c *Conn) handleMedia(b []byte, addr netip.AddrPort) bool {
	m := c.media.Load()
	if m == nil || len(*m) == 0 || !isRTP(b) {
		return false
	}
	l := (*m)[netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())]
	return l != nil && l.ReceiveRTP(b)
}

// isRTP tells RTP from RTCP, STUN and DTLS on a multiplexed socket by its
// first two bytes (RFC 7983, RFC 5761).
func isRTP(b []byte) bool {
	return len(b) >= 12 && b[0]>>6 == 2 && (b[1] < 192 || b[1] > 223)
}
