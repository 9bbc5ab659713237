package testclient

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
)

// configuration is the peer connection setup the client's Network asks for.
func (c *Client) configuration() webrtc.Configuration {
	var cfg webrtc.Configuration
	n := c.opts.Network
	if n.Relay {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	if !n.ICEServers {
		return cfg
	}
	c.mu.Lock()
	var servers []signal.ICEServer
	if c.joined != nil {
		servers = c.joined.ICEServers
	}
	c.mu.Unlock()
	for _, s := range servers {
		var urls []string
		for _, u := range s.URLs {
			if n.ICEServerURL == nil || n.ICEServerURL(u) {
				urls = append(urls, u)
			}
		}
		if len(urls) > 0 {
			cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: urls, Username: s.Username, Credential: s.Credential})
		}
	}
	return cfg
}

// ICEServers are the ICE servers meetd sent in joined.
func (c *Client) ICEServers() []signal.ICEServer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.joined == nil {
		return nil
	}
	return c.joined.ICEServers
}

// Path is the candidate pair ICE chose for a connection.
type Path struct {
	// LocalType and RemoteType are host, srflx, prflx or relay.
	LocalType, RemoteType string
	// Protocol is udp or tcp between the client (or its relay) and meetd.
	Protocol string
	// RelayProtocol is how the client reached its TURN server (udp, tcp
	// or tls) when LocalType is relay.
	RelayProtocol string
	Local, Remote string // address:port
	RemotePort    int
}

func (p Path) String() string {
	s := fmt.Sprintf("%s %s %s -> %s %s", p.Protocol, p.LocalType, p.Local, p.RemoteType, p.Remote)
	if p.RelayProtocol != "" {
		s += " (relay over " + p.RelayProtocol + ")"
	}
	return s
}

// ErrNoPath means the connection has not chosen a candidate pair (yet).
var ErrNoPath = errors.New("no candidate pair selected")

// Path returns the path of the publish or subscribe connection.
func (c *Client) Path(target string) (Path, error) {
	c.mu.Lock()
	pc := c.sub
	if target == signal.TargetPublish {
		pc = c.pub
	}
	c.mu.Unlock()
	if pc == nil {
		return Path{}, fmt.Errorf("%s: %w", target, ErrNoPath)
	}
	var ice *webrtc.ICETransport
	for _, t := range pc.GetTransceivers() {
		if r := t.Receiver(); r != nil && r.Transport() != nil {
			ice = r.Transport().ICETransport()
			break
		}
		if s := t.Sender(); s != nil && s.Transport() != nil {
			ice = s.Transport().ICETransport()
			break
		}
	}
	if ice == nil {
		return Path{}, fmt.Errorf("%s: %w", target, ErrNoPath)
	}
	pair, err := ice.GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return Path{}, fmt.Errorf("%s: %w", target, ErrNoPath)
	}
	p := Path{
		LocalType: pair.Local.Typ.String(), RemoteType: pair.Remote.Typ.String(),
		Protocol:   strings.ToLower(pair.Local.Protocol.String()),
		Local:      fmt.Sprintf("%s:%d", pair.Local.Address, pair.Local.Port),
		Remote:     fmt.Sprintf("%s:%d", pair.Remote.Address, pair.Remote.Port),
		RemotePort: int(pair.Remote.Port),
	}
	if pair.Local.Typ == webrtc.ICECandidateTypeRelay {
		for _, st := range pc.GetStats() {
			if cs, ok := st.(webrtc.ICECandidateStats); ok && cs.CandidateType == webrtc.ICECandidateTypeRelay &&
				cs.IP == pair.Local.Address && cs.Port == int32(pair.Local.Port) {
				p.RelayProtocol = cs.RelayProtocol
			}
		}
	}
	return p, nil
}
