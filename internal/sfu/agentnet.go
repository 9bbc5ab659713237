package sfu

import (
	"sync"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// interfacesEvery is how long the list of network interfaces serves new
// ICE agents before it is read again.
const interfacesEvery = 10 * time.Second

// agentNet is the network every ICE agent gathers with: the host's, with a
// list of its interfaces read at most once per interfacesEvery. Given
// none, pion reads the list, a netlink dump of every interface and
// address, for each peer connection, on the core that forwards media: a
// quarter of a millisecond for every viewer who joins. An interface that
// appears is still used by the connections made from interfacesEvery on.
type agentNet struct {
	*stdnet.Net

	// mu protects cur and at.
	mu  sync.Mutex
	cur *stdnet.Net
	at  time.Time
}

func newAgentNet() (*agentNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &agentNet{Net: n, cur: n, at: time.Now()}, nil
}

// fresh is the host's network with an interface list at most
// interfacesEvery old. A list that cannot be read keeps the last one.
func (n *agentNet) fresh() *stdnet.Net {
	n.mu.Lock()
	defer n.mu.Unlock()
	if time.Since(n.at) > interfacesEvery {
		if nn, err := stdnet.NewNet(); err == nil {
			n.cur = nn
		}
		n.at = time.Now()
	}
	return n.cur
}

// Interfaces implements transport.Net.
func (n *agentNet) Interfaces() ([]*transport.Interface, error) { return n.fresh().Interfaces() }

// InterfaceByIndex implements transport.Net.
func (n *agentNet) InterfaceByIndex(index int) (*transport.Interface, error) {
	return n.fresh().InterfaceByIndex(index)
}

// InterfaceByName implements transport.Net.
func (n *agentNet) InterfaceByName(name string) (*transport.Interface, error) {
	return n.fresh().InterfaceByName(name)
}
