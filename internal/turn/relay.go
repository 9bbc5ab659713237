package turn

import (
	"errors"
	"net"

	"github.com/pion/turn/v5"
)

// errTCPRelay refuses TCP relays (RFC 6062): meetd's media is UDP.
var errTCPRelay = errors.New("TCP relays are not offered")

// relayGenerator opens UDP relays on ip. Behind a 1:1 NAT the SFU announces
// public addresses that this machine may not reach itself (no hairpinning),
// so the relay sends to ip in their place and reports replies as coming from
// the public address, which is what the client holds a permission for.
type relayGenerator struct {
	ip     net.IP
	public []net.IP
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
	if len(g.public) == 0 {
		return conn, addr, nil
	}
	return &natConn{UDPConn: conn, local: g.ip, public: g.public}, addr, nil
}

func (g *relayGenerator) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

func (g *relayGenerator) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// natConn maps meetd's public addresses to its local one and back.
type natConn struct {
	*net.UDPConn
	local  net.IP
	public []net.IP
}

func (c *natConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if u, ok := addr.(*net.UDPAddr); ok {
		for _, ip := range c.public {
			if ip.Equal(u.IP) {
				addr = &net.UDPAddr{IP: c.local, Port: u.Port}
				break
			}
		}
	}
	return c.UDPConn.WriteTo(p, addr)
}

func (c *natConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.UDPConn.ReadFrom(p)
	if u, ok := addr.(*net.UDPAddr); ok && u.IP.Equal(c.local) {
		addr = &net.UDPAddr{IP: c.public[0], Port: u.Port}
	}
	return n, addr, err
}
