package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
)

// A node link carries tracks from the node they are published on (the
// origin) to another node with members in their rooms (the edge). The
// origin offers, over NATS request/reply, with all its candidates; the
// edge answers the same way. On the origin the link is a subscribe
// connection, one down track per track; on the edge a publish connection,
// whose tracks the edge's members subscribe to as to any publisher's.

// linkOffer is what the origin sends on linkSubject.<edge>.
type linkOffer struct {
	From string `json:"from"`
	// Session names the origin's connection: a new one replaces the
	// edge's old one.
	Session string `json:"session"`
	SDP     string `json:"sdp"`
	// Streams are the stream ids the link carries now; the edge drops the
	// tracks of others.
	Streams []string `json:"streams"`
}

type linkAnswer struct {
	SDP   string `json:"sdp,omitempty"`
	Error string `json:"error,omitempty"`
}

// gatherWait bounds the wait for a link's candidates (host candidates
// only: milliseconds).
const gatherWait = 2 * time.Second

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

// outLink is the origin's side of a link to one edge.
type outLink struct {
	node    string
	session string
	pc      *webrtc.PeerConnection
	egress  *sfu.Egress
	reports *sfu.Reporter
	// downs are the tracks it carries (each layer of a simulcast track
	// apart), with their stream ids; changed by the run loop only, under
	// mu, which bytes and the edge's layer wishes take to read them.
	mu     sync.Mutex
	downs  map[sendKey]*linkSender
	sent   *traffic
	failed atomic.Bool
	tracks counter
	// offered is set once an answer was taken.
	offered bool
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

func newSession() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (n *Node) newOutLink(node string) (*outLink, error) {
	// On a socket of its own: the link the other node offers to this one
	// is on the shared socket, between the same two addresses
	// (NewOwnSocketSubscribeConnection).
	log := n.log.With("link_to", node)
	pc, eg, err := n.api.NewOwnSocketSubscribeConnection(log)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	sent := n.trafficLocked(node)
	n.mu.Unlock()
	l := &outLink{node: node, session: newSession(), pc: pc, egress: eg,
		reports: n.api.NewReporter(eg, pc.WriteRTCP), downs: map[sendKey]*linkSender{}, sent: sent}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		log.Info("node link", "state", s.String())
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			l.failed.Store(true)
			n.wake()
		}
	})
	return l, nil
}

func (l *outLink) close() {
	l.mu.Lock()
	for k, s := range l.downs {
		k.t.Unsubscribe(s.sender.Down())
		l.reports.Remove(s.sender.Down())
		l.sent.sent.Add(s.sender.Down().Bytes())
	}
	clear(l.downs)
	l.mu.Unlock()
	l.reports.Close()
	_ = l.pc.Close()
}

// set makes the link carry want (track: stream id), a simulcast track
// as one link track per layer; it reports whether that changed anything.
func (l *outLink) set(tracks map[*sfu.Track]string) (bool, error) {
	want := linkTracks(tracks)
	changed := false
	for k, s := range l.downs {
		if _, ok := want[k]; ok {
			continue
		}
		k.t.Unsubscribe(s.sender.Down())
		l.reports.Remove(s.sender.Down())
		l.mu.Lock()
		l.sent.sent.Add(s.sender.Down().Bytes())
		delete(l.downs, k)
		l.mu.Unlock()
		changed = true
		if err := l.pc.RemoveTrack(s.sender.RTPSender()); err != nil {
			return true, err
		}
	}
	for k, st := range want {
		if _, ok := l.downs[k]; ok {
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
		if err != nil {
			k.t.Unsubscribe(d)
			l.reports.Remove(d)
			return true, err
		}
		l.mu.Lock()
		l.downs[k] = &linkSender{sfu.NewSender(sender, d), st}
		l.mu.Unlock()
		changed = true
	}
	l.tracks.Store(int64(len(l.downs)))
	return changed, nil
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

// negotiate offers the link's tracks to the edge and takes its answer.
func (n *Node) negotiate(l *outLink) error {
	offer, err := l.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(l.pc)
	if err := l.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-time.After(gatherWait):
	}
	streams := make([]string, 0, len(l.downs))
	for _, s := range l.downs {
		streams = append(streams, s.stream)
	}
	slices.Sort(streams)
	streams = slices.Compact(streams) // a simulcast track's layers share one
	req, _ := json.Marshal(linkOffer{From: n.name, Session: l.session,
		SDP: n.onlyMediaAddr(l.pc.LocalDescription().SDP), Streams: streams})
	ctx, cancel := context.WithTimeout(n.ctx, requestTimeout)
	defer cancel()
	reply, err := n.nc.RequestWithContext(ctx, linkSubject+"."+l.node, req)
	if err != nil {
		return fmt.Errorf("offer to %s: %w", l.node, err)
	}
	var ans linkAnswer
	if err := json.Unmarshal(reply.Data, &ans); err != nil {
		return fmt.Errorf("answer of %s: %w", l.node, err)
	}
	if ans.Error != "" {
		return fmt.Errorf("%s refused the link: %s", l.node, ans.Error)
	}
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		return err
	}
	l.offered = true
	return nil
}

// onlyMediaAddr keeps, when the node has a media address for other nodes,
// only the candidates on it.
func (n *Node) onlyMediaAddr(sdp string) string {
	if n.mediaAddr == "" {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\n")
	kept := lines[:0]
	for _, line := range lines {
		if strings.HasPrefix(line, "a=candidate:") {
			f := strings.Fields(line)
			if len(f) > 4 && !sameIP(f[4], n.mediaAddr) {
				continue
			}
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "")
}

func sameIP(a, b string) bool {
	x, y := net.ParseIP(a), net.ParseIP(b)
	return x != nil && y != nil && x.Equal(y)
}

// relayTo is what this node's links should carry now: for each live
// node, the tracks published here in the rooms it has members in.
func (n *Node) wanted() map[string]map[*sfu.Track]string {
	n.mu.Lock()
	type open struct {
		k     roomKey
		r     *room.Room
		nodes []string
	}
	var rooms []open
	for k, rs := range n.rooms {
		var nodes []string
		for node, ms := range rs.remote {
			if len(ms) > 0 && n.isAliveLocked(node) {
				nodes = append(nodes, node)
			}
		}
		if len(nodes) > 0 {
			rooms = append(rooms, open{k, rs.r, nodes})
		}
	}
	n.mu.Unlock()
	want := map[string]map[*sfu.Track]string{}
	for _, o := range rooms {
		for _, p := range o.r.LocalTracks() {
			t, ok := p.Track.(*sfu.Track)
			if !ok {
				continue
			}
			for _, node := range o.nodes {
				if want[node] == nil {
					want[node] = map[*sfu.Track]string{}
				}
				want[node][t] = stream(o.k, t)
			}
		}
	}
	return want
}

// keepLinks brings the node links in line with what they should carry:
// links made, renegotiated, closed, and made anew after they failed.
func (n *Node) keepLinks() {
	want := n.wanted()
	n.mu.Lock()
	links := maps.Clone(n.out)
	n.mu.Unlock()
	for node, l := range links {
		if _, ok := want[node]; !ok || l.failed.Load() {
			n.log.Info("node link closed", "link_to", node, "failed", l.failed.Load())
			l.close()
			n.mu.Lock()
			delete(n.out, node)
			n.mu.Unlock()
			delete(links, node)
		}
	}
	for node, tracks := range want {
		if n.ctx.Err() != nil {
			return
		}
		l := links[node]
		if l == nil {
			var err error
			if l, err = n.newOutLink(node); err != nil {
				n.log.Warn("node link", "link_to", node, "err", err)
				continue
			}
			n.mu.Lock()
			n.out[node] = l
			n.mu.Unlock()
			n.log.Info("node link opened", "link_to", node)
		}
		changed, err := l.set(tracks)
		if err == nil && (changed || !l.offered) {
			err = n.negotiate(l)
		}
		if err != nil {
			// Made anew at the next pass.
			n.log.Warn("node link", "link_to", node, "err", err)
			l.failed.Store(true)
		}
	}
}

// relayTo gives r, a room opening here, the tracks links brought for it
// before it opened.
func (n *Node) relayTo(k roomKey, r *room.Room) {
	n.mu.Lock()
	var sets []func()
	for _, l := range n.in {
		for pub, ts := range l.byPublisher(k) {
			sets = append(sets, func() { r.SetRelayed(pub, ts) })
		}
	}
	n.mu.Unlock()
	for _, f := range sets {
		f()
	}
}

// inLink is the edge's side of a link from one origin.
type inLink struct {
	node    string
	session string
	pc      *webrtc.PeerConnection
	// mu protects the maps; negotiation holds it too, one at a time.
	mu   sync.Mutex
	byID map[string]*relayed
	// layered are the simulcast tracks among byID by stream id, which
	// their other layers join (layers.go).
	layered map[string]*relayed
	// wishMu protects wishes, what this node last told the origin it
	// wants of the layers of each of them: apart from mu, which a
	// negotiation holds for a while.
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

func (l *inLink) close() { _ = l.pc.Close() }

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

// handleLink answers an origin's offer.
func (n *Node) handleLink(msg *nats.Msg) {
	var o linkOffer
	if err := json.Unmarshal(msg.Data, &o); err != nil || o.From == "" || o.From == n.name {
		_ = msg.Respond(mustJSON(linkAnswer{Error: "bad offer"}))
		return
	}
	sdp, err := n.answerLink(o)
	if err != nil {
		n.log.Warn("node link offer refused", "link_from", o.From, "err", err)
		_ = msg.Respond(mustJSON(linkAnswer{Error: err.Error()}))
		return
	}
	_ = msg.Respond(mustJSON(linkAnswer{SDP: sdp}))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func (n *Node) answerLink(o linkOffer) (string, error) {
	if n.ctx.Err() != nil {
		return "", errClosed
	}
	n.mu.Lock()
	l := n.in[o.From]
	if l != nil && l.session != o.Session {
		l.close()
		l = nil
	}
	if l == nil {
		var err error
		if l, err = n.newInLink(o.From, o.Session); err != nil {
			n.mu.Unlock()
			return "", err
		}
		n.in[o.From] = l
	}
	n.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
		return "", err
	}
	answer, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(l.pc)
	if err := l.pc.SetLocalDescription(answer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-time.After(gatherWait):
	}
	// Tracks the origin no longer sends leave their stages.
	var gone []*relayed
	for id, r := range l.byID {
		if !slices.Contains(o.Streams, r.stream) {
			gone = append(gone, r)
			l.forgetLocked(id, r)
		}
	}
	l.countLocked()
	go n.unrelay(gone)
	return n.onlyMediaAddr(l.pc.LocalDescription().SDP), nil
}

func (n *Node) newInLink(node, session string) (*inLink, error) {
	pc, err := n.api.NewPublishConnection()
	if err != nil {
		return nil, err
	}
	// n.mu is held (answerLink).
	l := &inLink{node: node, session: session, pc: pc, byID: map[string]*relayed{}, received: n.trafficLocked(node),
		layered: map[string]*relayed{}, wishes: map[string]layerWish{}}
	log := n.log.With("link_from", node)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		log.Info("node link", "state", s.String())
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			// Not on this goroutine: pion may call this from Close, with
			// n.mu held.
			go n.dropInLink(l)
		}
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
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
	})
	return l, nil
}

// dropLinksFrom closes the link from node, gone: its tracks leave their
// stages now rather than when its connection times out.
func (n *Node) dropLinksFrom(node string) {
	n.mu.Lock()
	l := n.in[node]
	n.mu.Unlock()
	if l != nil {
		l.close()
		n.dropInLink(l)
	}
}

// dropInLink forgets a link whose connection ended; its tracks leave
// their stages.
func (n *Node) dropInLink(l *inLink) {
	n.mu.Lock()
	if n.in[l.node] == l {
		delete(n.in, l.node)
	}
	n.mu.Unlock()
	l.mu.Lock()
	gone := slices.Collect(maps.Values(l.byID))
	for id, r := range l.byID {
		l.forgetLocked(id, r)
	}
	l.tracks.Store(0)
	l.mu.Unlock()
	n.unrelay(gone)
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
	for _, l := range n.in {
		tracks = append(tracks, l.byPublisher(k)[publisher]...)
	}
	n.mu.Unlock()
	if rs != nil {
		rs.r.SetRelayed(publisher, tracks)
	}
}
