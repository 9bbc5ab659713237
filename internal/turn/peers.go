package turn

import (
	"net"
	"net/netip"
)

// Media is where meetd's media sockets are: the only peers a relay sends
// to or hears from. TURN permissions name only an IP address, so without
// the port a relay could reach any UDP service on the machine (on loopback
// or its other addresses); checking address and port keeps it to meetd's
// own media.
type Media struct {
	// UDP are the SFU's shared UDP sockets. An unspecified address stands
	// for every address of the machine.
	UDP []netip.AddrPort
	// PortMin and PortMax bound the ports of the SFU's per-connection UDP
	// sockets, on any address of the machine; zero when it has none.
	PortMin, PortMax uint16
}

// Empty reports whether Media names no socket at all: relays then reach
// nothing.
func (m Media) Empty() bool { return len(m.UDP) == 0 && m.PortMin == 0 }

// peers decides which addresses relays may reach. It does not change once
// made, so relays read it without a lock.
type peers struct {
	exact map[netip.AddrPort]bool // shared sockets on one address
	anyIP map[uint16]bool         // shared sockets on every address
	own   map[netip.Addr]bool     // the machine's addresses
	// min and max bound the per-connection ports; zero when none.
	min, max uint16
	// turnPort is the TURN server's own port, never a peer even inside
	// the range.
	turnPort uint16
	// relay reports whether an address is one of the server's relays:
	// relaying into another relay would loop.
	relay func(netip.AddrPort) bool
}

func newPeers(m Media, own []net.IP, turnPort int, relay func(netip.AddrPort) bool) *peers {
	p := &peers{
		exact: map[netip.AddrPort]bool{}, anyIP: map[uint16]bool{}, own: map[netip.Addr]bool{},
		min: m.PortMin, max: m.PortMax, turnPort: uint16(turnPort), relay: relay,
	}
	if p.max < p.min {
		p.max = p.min
	}
	for _, ip := range own {
		if a, ok := netip.AddrFromSlice(ip); ok {
			p.own[a.Unmap()] = true
		}
	}
	for _, a := range m.UDP {
		a = plain(a)
		if a.Addr().IsUnspecified() {
			p.anyIP[a.Port()] = true
		} else {
			p.exact[a] = true
		}
	}
	return p
}

// plain drops what makes one address look like two: an IPv4 address
// inside IPv6, and an IPv6 zone.
func plain(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
}

// allows reports whether a relay may send to a, or take what a sends.
func (p *peers) allows(a netip.AddrPort) bool {
	a = plain(a)
	if p.exact[a] {
		return true
	}
	if !p.own[a.Addr()] {
		return false
	}
	if p.anyIP[a.Port()] {
		return true
	}
	port := a.Port()
	return p.min != 0 && port >= p.min && port <= p.max && port != p.turnPort && !p.relay(a)
}

// allowsIP reports whether some media socket is at ip: the check of TURN
// permissions, which name no port.
func (p *peers) allowsIP(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if p.own[ip] && (len(p.anyIP) > 0 || p.min != 0) {
		return true
	}
	for a := range p.exact {
		if a.Addr() == ip {
			return true
		}
	}
	return false
}
