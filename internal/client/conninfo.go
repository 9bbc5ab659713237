package client

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/bwe"
	"github.com/meetd/meetd/internal/metrics"
	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
)

// Stats tells the operator's stats view what clients put in rooms: what
// their tracks carry and how they are connected (metrics.Provider).
type Stats struct{}

// Track describes t, a track a client put on a stage.
func (Stats) Track(t room.Track) (sfu.TrackStats, bool) {
	if st, ok := t.(*sfu.Track); ok {
		return st.Stats(), true
	}
	return sfu.TrackStats{}, false
}

// Connection is how m, a client, is connected.
func (Stats) Connection(m room.Member) (metrics.ConnInfo, bool) {
	if c, ok := m.(*Client); ok {
		return c.Connection(), true
	}
	return metrics.ConnInfo{}, false
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
func (c *Client) Connection() metrics.ConnInfo {
	info := metrics.ConnInfo{ID: c.id, Remote: c.remote}
	if p := c.paths.publish.Load(); p != nil {
		info.Publish = *p
	}
	if p := c.paths.subscribe.Load(); p != nil {
		info.Subscribe = *p
	}
	if r := c.recv.Load(); r != nil {
		info.Estimate = r.est.Estimate()
		if p := r.est.Probe(); p.Started > 0 {
			info.Probe = &p
		}
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
