package sfu

import (
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// A simulcast track crosses a node link (internal/cluster) as one link
// track per layer: on the origin, a down track pinned to the layer
// (SubscribeLayer), which forwards it only while the edge wants it; on
// the edge, the layer tracks of one camera join into one simulcast Track
// (NewLayerTrack, AddLayerOf), whose viewers pick and switch layers as on
// the origin, and whose pausing (OnLayers) tells the origin what the edge
// wants.

// layerPin is what a pinned down track forwards.
type layerPin struct {
	rid string
	// wanted is false while the subscriber (the edge) has no use for
	// the layer: the down track forwards nothing and does not count as
	// needing it, so that the publisher may be told to pause it. Written
	// under the track's mu; read without it by the pause rule.
	wanted atomic.Bool
}

// NewLayerTrack wraps remote, one layer (rid) of a simulcast track that
// arrives as a track of its own (a node link's), as a simulcast Track
// named id; the track's other layers join with AddLayerOf.
func (a *API) NewLayerTrack(pc *webrtc.PeerConnection, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver,
	id, streamID, rid string, log *slog.Logger,
) *Track {
	return a.newTrack(pc, remote, receiver, id, streamID, rid, log)
}

// AddLayerOf adds remote, which arrived as a track of its own, as the
// track's layer rid (see NewLayerTrack).
func (t *Track) AddLayerOf(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver, rid string) {
	t.addLayer(remote, receiver, rid)
}

// RIDs are the simulcast layers the publisher negotiated or sends,
// smallest first; none for a track without simulcast.
func (t *Track) RIDs() []string {
	rids := slices.Clone(t.rids)
	for _, rid := range t.Layers() {
		if rid != "" && !slices.Contains(rids, rid) {
			rids = append(rids, rid)
		}
	}
	slices.SortStableFunc(rids, func(a, b string) int { return ridRank(a) - ridRank(b) })
	return rids
}

// SubscribeLayer makes a down track that forwards the layer rid only, at
// its keyframes, whatever its subscriber's view; it is wanted until
// SetWanted says otherwise.
func (t *Track) SubscribeLayer(rid string) *DownTrack {
	pin := &layerPin{rid: rid}
	pin.wanted.Store(true)
	return t.subscribe(pin)
}

// SetWanted says whether the subscriber of a down track of SubscribeLayer
// wants its layer now; a layer wanted again is asked a keyframe of.
func (d *DownTrack) SetWanted(wanted bool) {
	t := d.track
	t.mu.Lock()
	defer t.mu.Unlock()
	if d.pin == nil || d.pin.wanted.Load() == wanted {
		return
	}
	d.pin.wanted.Store(wanted)
	d.retargetLocked()
}

// pinnedLayer is the layer a pinned down track forwards: nil while it is
// not wanted or has not arrived. t.mu must be held.
func (t *Track) pinnedLayer(p *layerPin) *layer {
	if !p.wanted.Load() {
		return nil
	}
	for _, l := range *t.layers.Load() {
		if l.rid == p.rid {
			return l
		}
	}
	return nil
}
