package cluster

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
)

// The two halves of a node link: outLink sends this node's tracks (down
// tracks through the link's Egress), inLink takes the other node's (local
// sfu.Tracks of the remote publishers). Both are on the link's one
// connection.

// linkTrack is a down track as a node link sends it: its stream id says
// which room and publisher it belongs to (see stream); a layer of a
// simulcast track has the layer's RID after a '#' in its id (layers.go).
type linkTrack struct {
	*sfu.DownTrack
	stream string
	rid    string
}

func (t linkTrack) StreamID() string { return t.stream }
func (t linkTrack) ID() string       { return layerID(t.Kind().String()+"."+t.stream, t.rid) }

// stream is a track's stream id on node links: "b.room.<publisher>_<stream>".
func stream(k roomKey, t *sfu.Track) string { return k.key() + "." + t.StreamID() }

// parseStream splits a stream id of a node link.
func parseStream(s string) (k roomKey, publisher, streamID string, ok bool) {
	kind, rest, ok1 := strings.Cut(s, ".")
	name, streamID, ok2 := strings.Cut(rest, ".")
	publisher, _, ok3 := strings.Cut(streamID, "_")
	if !ok1 || !ok2 || !ok3 || (kind != "b" && kind != "m") || name == "" {
		return roomKey{}, "", "", false
	}
	k = roomKey{room.Broadcast, name}
	if kind == "m" {
		k.kind = room.Meeting
	}
	return k, publisher, streamID, true
}

// outLink is what a link sends: this node's tracks that the other node
// has members for.
type outLink struct {
	node    string
	session string
	pc      *webrtc.PeerConnection
	egress  *sfu.Egress
	reports *sfu.Reporter
	// downs are the tracks it carries (each layer of a simulcast track
	// apart), with their stream ids; changed by set (under the link's
	// nego, one at a time) and release, under mu. closed is set by
	// release: set adds nothing after.
	mu     sync.Mutex
	downs  map[sendKey]*linkSender
	closed bool
	sent   *traffic
	tracks counter
}

// sendKey names a track on a link: a track, or one layer of a simulcast
// track.
type sendKey struct {
	t   *sfu.Track
	rid string
}

type linkSender struct {
	sender *sfu.Sender
	stream string
}

var errLinkClosed = errors.New("node link closed")

// release stops sending: the down tracks leave their tracks.
func (l *outLink) release() {
	l.mu.Lock()
	for k, s := range l.downs {
		k.t.Unsubscribe(s.sender.Down())
		l.reports.Remove(s.sender.Down())
		l.sent.sent.Add(s.sender.Down().Bytes())
	}
	clear(l.downs)
	closed := l.closed
	l.closed = true
	l.mu.Unlock()
	l.tracks.Store(0)
	if !closed {
		l.reports.Close()
	}
}

// set makes the link carry want (track: stream id), a simulcast track
// as one link track per layer; it reports whether that changed anything.
// The link's nego must be held.
func (l *outLink) set(tracks map[*sfu.Track]string) (bool, error) {
	want := linkTracks(tracks)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false, errLinkClosed
	}
	current := maps.Clone(l.downs)
	l.mu.Unlock()
	changed := false
	for k, s := range current {
		if _, ok := want[k]; ok {
			continue
		}
		l.mu.Lock()
		mine := l.downs[k] == s // not released meanwhile
		if mine {
			l.sent.sent.Add(s.sender.Down().Bytes())
			delete(l.downs, k)
		}
		l.mu.Unlock()
		if !mine {
			return true, errLinkClosed
		}
		k.t.Unsubscribe(s.sender.Down())
		l.reports.Remove(s.sender.Down())
		changed = true
		if err := l.pc.RemoveTrack(s.sender.RTPSender()); err != nil {
			return true, err
		}
	}
	for k, st := range want {
		if _, ok := current[k]; ok {
			continue
		}
		var d *sfu.DownTrack
		if k.rid == "" {
			d = k.t.Subscribe()
		} else {
			d = k.t.SubscribeLayer(k.rid)
		}
		d.SetEgress(l.egress)
		l.reports.Add(d)
		sender, err := l.pc.AddTrack(linkTrack{d, st, k.rid})
		if err == nil {
			l.mu.Lock()
			if l.closed {
				err = errLinkClosed
			} else {
				l.downs[k] = &linkSender{sfu.NewSender(sender, d), st}
			}
			l.mu.Unlock()
		}
		if err != nil {
			k.t.Unsubscribe(d)
			l.reports.Remove(d)
			return true, err
		}
		changed = true
	}
	l.mu.Lock()
	l.tracks.Store(int64(len(l.downs)))
	l.mu.Unlock()
	return changed, nil
}

// streams are the stream ids the link sends, sorted, each once (a
// simulcast track's layers share one).
func (l *outLink) streams() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	streams := make([]string, 0, len(l.downs))
	for _, s := range l.downs {
		streams = append(streams, s.stream)
	}
	slices.Sort(streams)
	return slices.Compact(streams)
}

// bytes is what the link's tracks sent so far.
func (l *outLink) bytes() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n uint64
	for _, s := range l.downs {
		n += s.sender.Down().Bytes()
	}
	return n
}

// inLink is what a link brings: the other node's tracks that this node
// has members for.
type inLink struct {
	node    string
	session string
	pc      *webrtc.PeerConnection
	// mu protects the maps.
	mu   sync.Mutex
	byID map[string]*relayed
	// layered are the simulcast tracks among byID by stream id, which
	// their other layers join (layers.go).
	layered map[string]*relayed
	// wishMu protects wishes, what this node last told the origin it
	// wants of the layers of each of them: apart from mu.
	wishMu   sync.Mutex
	wishes   map[string]layerWish
	tracks   counter
	received *traffic
}

// relayed is a track a link brought.
type relayed struct {
	k         roomKey
	publisher string
	stream    string
	t         *sfu.Track
}

// bytes is what the link's tracks received so far.
func (l *inLink) bytes() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n uint64
	for _, r := range l.byID {
		n += r.t.Bytes()
	}
	return n
}

// forget takes r off the link, its bytes into the node's count; l.mu
// must be held.
func (l *inLink) forgetLocked(id string, r *relayed) {
	l.received.received.Add(r.t.Bytes())
	delete(l.byID, id)
	if l.layered[r.stream] == r {
		delete(l.layered, r.stream)
		l.wishMu.Lock()
		delete(l.wishes, r.stream)
		l.wishMu.Unlock()
	}
}

// forgetAll takes every track off the link and returns them.
func (l *inLink) forgetAll() []*relayed {
	l.mu.Lock()
	defer l.mu.Unlock()
	gone := slices.Collect(maps.Values(l.byID))
	for id, r := range l.byID {
		l.forgetLocked(id, r)
	}
	l.tracks.Store(0)
	return gone
}

// keepOnly takes off the link the tracks of streams the other node no
// longer sends, and returns them.
func (l *inLink) keepOnly(streams []string) []*relayed {
	l.mu.Lock()
	defer l.mu.Unlock()
	var gone []*relayed
	for id, r := range l.byID {
		if !slices.Contains(streams, r.stream) {
			gone = append(gone, r)
			l.forgetLocked(id, r)
		}
	}
	l.countLocked()
	return gone
}

// byPublisher lists the link's tracks of room k by publisher.
func (l *inLink) byPublisher(k roomKey) map[string][]room.Track {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string][]room.Track{}
	for _, r := range l.byID {
		if r.k == k {
			m[r.publisher] = append(m[r.publisher], r.t)
		}
	}
	return m
}

// onTrack takes a track the other node sends on l: it becomes a local
// track of its publisher, in its room.
func (n *Node) onTrack(l *inLink, log *slog.Logger) func(*webrtc.TrackRemote, *webrtc.RTPReceiver) {
	return func(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		k, publisher, streamID, ok := parseStream(remote.StreamID())
		if !ok {
			log.Warn("node link track with a stream id not of a link", "stream", remote.StreamID())
			return
		}
		r := n.relayedTrack(l, remote, receiver, k, publisher, streamID, log)
		if r == nil {
			return // one more layer of a simulcast track
		}
		t := r.t
		go t.Run()
		id := remote.ID()
		log.Info("relayed track", "room", k.key(), "publisher", publisher, "kind", remote.Kind().String())
		n.relayChanged(k, publisher)
		go func() {
			<-t.Done()
			l.mu.Lock()
			if l.byID[id] == r {
				l.forgetLocked(id, r)
			}
			l.countLocked()
			l.mu.Unlock()
			n.relayChanged(k, publisher)
		}()
	}
}

// relayTo gives r, a room opening here, the tracks links brought for it
// before it opened.
func (n *Node) relayTo(k roomKey, r *room.Room) {
	n.mu.Lock()
	var sets []func()
	for _, l := range n.links {
		for pub, ts := range l.in.byPublisher(k) {
			sets = append(sets, func() { r.SetRelayed(pub, ts) })
		}
	}
	n.mu.Unlock()
	for _, f := range sets {
		f()
	}
}

func (n *Node) unrelay(gone []*relayed) {
	for _, r := range gone {
		n.relayChanged(r.k, r.publisher)
	}
}

// relayChanged gives the room the tracks of publisher that the links
// carry now.
func (n *Node) relayChanged(k roomKey, publisher string) {
	n.mu.Lock()
	rs := n.rooms[k]
	var tracks []room.Track
	for _, l := range n.links {
		tracks = append(tracks, l.in.byPublisher(k)[publisher]...)
	}
	n.mu.Unlock()
	if rs != nil {
		rs.r.SetRelayed(publisher, tracks)
	}
}
