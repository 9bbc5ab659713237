package turn

import (
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/pion/turn/v5"
)

var (
	// errTCPRelay refuses TCP relays (RFC 6062): meetd's media is UDP,
	// and browsers ask only for UDP relays.
	errTCPRelay = errors.New("TCP relays are not offered")
	// errPeerRefused is a relay's answer to sending anywhere but to
	// meetd's media sockets.
	errPeerRefused = errors.New("relay peer is not one of meetd's media sockets")
	// errNoParticipant refuses a relay to a credential whose participant
	// is gone (or an allocation that names none).
	errNoParticipant = errors.New("the participant is gone")
)

// relayGenerator opens UDP relays on ip, each guarded so that it reaches
// only meetd's media sockets. Behind a 1:1 NAT the SFU announces public
// addresses that this machine may not reach itself (no hairpinning), so the
// relay sends to ip in their place and reports replies as coming from the
// public address, which is what the client holds a permission for.
type relayGenerator struct {
	ip     net.IP
	public []net.IP
	// peers and participants are set once, before the server starts.
	peers        *peers
	participants *participants
	// refused hears of each packet a relay did not send.
	refused func(participant string, to netip.AddrPort)
}

var _ turn.RelayAddressGenerator = (*relayGenerator)(nil)

func (g *relayGenerator) Validate() error { return nil }

func (g *relayGenerator) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	network := "udp4"
	if g.ip.To4() == nil {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, &net.UDPAddr{IP: g.ip, Port: conf.RequestedPort})
	if err != nil {
		return nil, nil, err
	}
	addr := conn.LocalAddr().(*net.UDPAddr)
	r := &relayConn{UDPConn: conn, g: g, participant: conf.UserID, addr: plain(addr.AddrPort())}
	if !g.participants.addRelay(r) {
		_ = conn.Close()
		return nil, nil, errNoParticipant
	}
	return r, addr, nil
}

func (g *relayGenerator) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

// AllocateConn is what a Connect request asks for, even on a UDP
// allocation: a TCP connection to a peer. None is made.
func (g *relayGenerator) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// toLocal maps meetd's public addresses to the local one.
func (g *relayGenerator) toLocal(a netip.AddrPort) netip.AddrPort {
	for _, ip := range g.public {
		if pub, ok := netip.AddrFromSlice(ip); ok && pub.Unmap() == a.Addr() {
			local, _ := netip.AddrFromSlice(g.ip)
			return netip.AddrPortFrom(local.Unmap(), a.Port())
		}
	}
	return a
}

// toPublic maps the local address to the first public one.
func (g *relayGenerator) toPublic(a netip.AddrPort) netip.AddrPort {
	if len(g.public) == 0 {
		return a
	}
	local, _ := netip.AddrFromSlice(g.ip)
	if a.Addr() != local.Unmap() {
		return a
	}
	pub, _ := netip.AddrFromSlice(g.public[0])
	return netip.AddrPortFrom(pub.Unmap(), a.Port())
}

// relayConn is one allocation's relay socket. It sends only to meetd's
// media sockets, and passes on only what comes from them.
type relayConn struct {
	*net.UDPConn
	g           *relayGenerator
	participant string
	addr        netip.AddrPort
	once        sync.Once
}

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	u, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, errPeerRefused
	}
	to := c.g.toLocal(plain(u.AddrPort()))
	if !c.g.peers.allows(to) {
		c.g.refused(c.participant, to)
		return 0, errPeerRefused
	}
	return c.UDPConn.WriteToUDPAddrPort(p, to)
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.UDPConn.ReadFromUDPAddrPort(p)
		if err != nil {
			return n, nil, err
		}
		from = plain(from)
		if c.g.peers.allows(from) {
			return n, net.UDPAddrFromAddrPort(c.g.toPublic(from)), nil
		}
	}
}

// Close closes the relay once: a revoked participant's relays are closed
// by meetd, and then again by pion as it deletes the allocation.
func (c *relayConn) Close() error {
	var err error
	c.once.Do(func() {
		c.g.participants.removeRelay(c)
		err = c.UDPConn.Close()
	})
	return err
}
