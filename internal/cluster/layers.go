package cluster

import (
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/sfu"
)

// Simulcast across a node link (docs/cluster.md): each layer of a
// simulcast camera is a link track of its own, a down track on the origin
// pinned to the layer. The edge joins the layers of one stream id into one
// simulcast sfu.Track, whose viewers pick layers as on the origin; that
// track's pausing (sfu.Track.OnLayers) is the edge's wish, which it
// publishes on layersSubject.<origin>. The origin's pinned down track of a
// layer the edge paused forwards nothing and no longer counts as needing
// it, so the origin pauses it at the publisher when nobody else needs it.
// The layers stay negotiated: a switch is a NATS message, not an offer.

// layersSubject.<origin> carries the layers an edge wants of the origin's
// simulcast tracks.
const layersSubject = "meetd.layers"

// layerWish is what an edge wants of one simulcast track on a link.
type layerWish struct {
	From string `json:"from"`
	// Session is the link's (linkOffer.Session): a wish about an older
	// link is ignored.
	Session string `json:"session"`
	// Stream is the track's stream id on the link.
	Stream string   `json:"stream"`
	Active []string `json:"active"`
	Paused []string `json:"paused"`
}

// layerID is a link track's id for one layer rid ("": the whole track).
func layerID(id, rid string) string {
	if rid == "" {
		return id
	}
	return id + "#" + rid
}

// parseLayerID splits a link track's id into the track's id and the
// layer's RID ("" for a track sent whole). The track's id is its kind and
// stream id (linkTrack.ID), whatever either holds.
func parseLayerID(remote *webrtc.TrackRemote) (track, rid string) {
	id, base := remote.ID(), remote.Kind().String()+"."+remote.StreamID()
	if rid, ok := strings.CutPrefix(id, base+"#"); ok && rid != "" {
		return base, rid
	}
	return id, ""
}

// linkTracks are the link tracks that carry tracks (track: stream id): a
// simulcast video track's layers each apart, other tracks whole.
func linkTracks(tracks map[*sfu.Track]string) map[sendKey]string {
	want := make(map[sendKey]string, len(tracks))
	for t, st := range tracks {
		rids := t.RIDs()
		if t.Kind() != webrtc.RTPCodecTypeVideo || len(rids) == 0 {
			want[sendKey{t: t}] = st
			continue
		}
		for _, rid := range rids {
			want[sendKey{t, rid}] = st
		}
	}
	return want
}

// relayedTrack makes the local track of a link track that arrived on l,
// and returns it; nil when the link track is one more layer of a
// simulcast track the link already brought, which it joins.
func (n *Node) relayedTrack(l *inLink, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver,
	k roomKey, publisher, streamID string, log *slog.Logger,
) *relayed {
	stream := remote.StreamID()
	id, rid := parseLayerID(remote)
	l.mu.Lock()
	defer l.mu.Unlock()
	if rid == "" {
		r := &relayed{k: k, publisher: publisher, stream: stream, t: n.api.NewTrack(l.pc, remote, receiver, streamID, log)}
		l.byID[remote.ID()] = r
		l.countLocked()
		return r
	}
	if r := l.layered[stream]; r != nil {
		select {
		case <-r.t.Done():
		default:
			r.t.AddLayerOf(remote, receiver, rid)
			l.countLocked()
			return nil
		}
	}
	t := n.api.NewLayerTrack(l.pc, remote, receiver, id, streamID, rid, log)
	t.OnLayers(func(active, paused []string) { n.tellLayers(l, stream, active, paused) })
	r := &relayed{k: k, publisher: publisher, stream: stream, t: t}
	l.byID[remote.ID()] = r
	l.layered[stream] = r
	l.countLocked()
	return r
}

// countLocked counts the link's tracks, a simulcast track once per layer
// that arrived; l.mu must be held.
func (l *inLink) countLocked() {
	n := 0
	for _, r := range l.byID {
		n += max(1, len(r.t.Layers()))
	}
	l.tracks.Store(int64(n))
}

// tellLayers tells the origin of l which layers of the simulcast track
// stream this node wants (active) and which not (paused). It must not
// block: a NATS publish is buffered.
func (n *Node) tellLayers(l *inLink, stream string, active, paused []string) {
	w := layerWish{From: n.name, Session: l.session, Stream: stream, Active: active, Paused: paused}
	l.wishMu.Lock()
	l.wishes[stream] = w
	l.wishMu.Unlock()
	n.publishWish(l.node, w)
}

func (n *Node) publishWish(origin string, w layerWish) {
	if err := n.nc.Publish(layersSubject+"."+origin, mustJSON(w)); err != nil {
		n.log.Debug("layer wish not sent", "link_from", origin, "stream", w.Stream, "err", err)
	}
}

// resendWishes tells every origin again what this node wants of its
// simulcast tracks: a wish published while NATS was away is lost.
func (n *Node) resendWishes() {
	n.mu.Lock()
	links := make([]*inLink, 0, len(n.links))
	for _, l := range n.links {
		links = append(links, l.in)
	}
	n.mu.Unlock()
	for _, l := range links {
		l.wishMu.Lock()
		wishes := slices.Collect(maps.Values(l.wishes))
		l.wishMu.Unlock()
		for _, w := range wishes {
			n.publishWish(l.node, w)
		}
	}
}

// handleLayers applies an edge's wish to the link's down tracks of the
// track's layers.
func (n *Node) handleLayers(msg *nats.Msg) {
	var w layerWish
	if err := json.Unmarshal(msg.Data, &w); err != nil || w.From == "" || w.Stream == "" {
		n.log.Warn("bad layer wish on a node link", "subject", msg.Subject, "err", err)
		return
	}
	n.mu.Lock()
	var l *outLink
	if nl := n.links[w.From]; nl != nil {
		l = nl.out
	}
	n.mu.Unlock()
	if l == nil || l.session != w.Session {
		return // an older link's
	}
	type change struct {
		d      *sfu.DownTrack
		wanted bool
	}
	var changes []change
	l.mu.Lock()
	for k, s := range l.downs {
		if s.stream != w.Stream || k.rid == "" {
			continue
		}
		switch {
		case slices.Contains(w.Paused, k.rid):
			changes = append(changes, change{s.sender.Down(), false})
		case slices.Contains(w.Active, k.rid):
			changes = append(changes, change{s.sender.Down(), true})
		}
	}
	l.mu.Unlock()
	for _, c := range changes {
		c.d.SetWanted(c.wanted)
	}
	n.log.Info("edge layers", "link_to", w.From, "stream", w.Stream, "active", w.Active, "paused", w.Paused)
}
