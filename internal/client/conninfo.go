package client

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/bwe"
	"github.com/meetd/meetd/internal/sfu"
)

// ConnInfo is how a client is connected, for the operator's stats view.
type ConnInfo struct {
	ID      string `json:"id"`
	Remote  string `json:"remote"`
	Publish string `json:"publish,omitempty"`
	// Subscribe and Publish describe the ICE path in use, such as
	// "udp host 192.0.2.7:50312 -> 203.0.113.1:40000".
	Subscribe string `json:"subscribe,omitempty"`
	// Estimate is the subscribe connection's estimated bandwidth in bits
	// per second (0: none yet); Receiving what it carries.
	Estimate  uint64          `json:"estimate,omitempty"`
	Receiving []sfu.DownStats `json:"receiving,omitempty"`
}

// reception is a subscribe connection's down tracks, published by the
// client's goroutine for the stats view.
type reception struct {
	est   *bwe.Estimator
	downs []*sfu.DownTrack
}

// noteReception publishes what the subscribe connection carries now.
// Run's goroutine calls it after changing c.sub or its down tracks.
func (c *Client) noteReception() {
	s := c.sub
	if s == nil {
		c.recv.Store(nil)
		return
	}
	r := &reception{est: s.est}
	for _, st := range s.downs {
		r.downs = append(r.downs, st.Down())
	}
	c.recv.Store(r)
}

// paths holds the ICE paths of a client's connections; pion callbacks write
// it and the stats view reads it, so it is atomic rather than owned.
type paths struct {
	publish, subscribe atomic.Pointer[string]
}

// Connection describes how the client is connected.
func (c *Client) Connection() ConnInfo {
	info := ConnInfo{ID: c.id, Remote: c.remote}
	if p := c.paths.publish.Load(); p != nil {
		info.Publish = *p
	}
	if p := c.paths.subscribe.Load(); p != nil {
		info.Subscribe = *p
	}
	if r := c.recv.Load(); r != nil {
		info.Estimate = r.est.Estimate()
		for _, d := range r.downs {
			info.Receiving = append(info.Receiving, d.Stats())
		}
		slices.SortFunc(info.Receiving, func(a, b sfu.DownStats) int { return cmp.Compare(a.Track, b.Track) })
	}
	return info
}

// notePath records the ICE path of pc in dst when it connects, and clears
// it when the connection goes away.
func notePath(dst *atomic.Pointer[string], pc *webrtc.PeerConnection, s webrtc.PeerConnectionState) {
	switch s {
	case webrtc.PeerConnectionStateConnected:
		path := selectedPath(pc)
		dst.Store(&path)
	case webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateFailed:
		dst.Store(nil)
	}
}

func selectedPath(pc *webrtc.PeerConnection) string {
	sctp := pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return "unknown"
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return "unknown"
	}
	return fmt.Sprintf("%s %s %s:%d -> %s %s:%d", pair.Local.Protocol, pair.Local.Typ, pair.Local.Address,
		pair.Local.Port, pair.Remote.Typ, pair.Remote.Address, pair.Remote.Port)
}
