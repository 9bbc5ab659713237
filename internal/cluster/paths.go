package cluster

import (
	"net"
	"strconv"

	"github.com/pion/webrtc/v4"
)

// LinkPath is where one node link's media goes now.
type LinkPath struct {
	// Node is the node at the other end; Out is whether this node offers
	// the link (its name sorts lower).
	Node string
	Out  bool
	// State is the peer connection's state.
	State webrtc.PeerConnectionState
	// Local and Remote are the selected candidate pair's addresses
	// ("ip:port"), empty until ICE selected one.
	Local, Remote string
	// Reported is whether a receiver report from the other node gave
	// one of the tracks this node sends on the link a round trip: the
	// other node then got this one's sender reports.
	Reported bool
}

// LinkPaths are where this node's links' media goes now, for the
// operator and tests.
func (n *Node) LinkPaths() []LinkPath {
	type conn struct {
		path LinkPath
		pc   *webrtc.PeerConnection
		out  *outLink
	}
	n.mu.Lock()
	var conns []conn
	for node, l := range n.links {
		conns = append(conns, conn{LinkPath{Node: node, Out: l.offers}, l.pc, l.out})
	}
	n.mu.Unlock()
	paths := make([]LinkPath, 0, len(conns))
	for _, c := range conns {
		p := c.path
		p.State = c.pc.ConnectionState()
		if pair, err := c.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair(); err == nil && pair != nil {
			p.Local = net.JoinHostPort(pair.Local.Address, strconv.Itoa(int(pair.Local.Port)))
			p.Remote = net.JoinHostPort(pair.Remote.Address, strconv.Itoa(int(pair.Remote.Port)))
		}
		c.out.mu.Lock()
		for _, s := range c.out.downs {
			p.Reported = p.Reported || s.sender.Down().Stats().RTT != nil
		}
		c.out.mu.Unlock()
		paths = append(paths, p)
	}
	return paths
}
