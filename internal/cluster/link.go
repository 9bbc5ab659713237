package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// A node link is the one peer connection between two nodes that share
// rooms; it carries the tracks each has members on the other for, of all
// rooms, both ways (docs/cluster.md, Media: node links). The node whose
// name sorts lower offers, always, over NATS request/reply with all its
// candidates, so offers never collide: it offers its own tracks, and a
// recvonly m-section for each track the other node asked room for. The
// other node answers, attaching its tracks to those m-sections (pion's
// AddTrack reuses an offered transceiver of the kind with no sender);
// when what it sends changes it asks the offerer to offer again (an ask
// on the same subject), with how many m-sections its tracks still lack.

// linkOffer is what goes on linkSubject.<node>: an offer, or an ask.
type linkOffer struct {
	From string `json:"from"`
	// Session names the offerer's connection: a new one replaces the
	// answerer's old one. In an ask, the session the asker has ("" for
	// none).
	Session string `json:"session"`
	SDP     string `json:"sdp,omitempty"`
	// Streams are the stream ids the sender (of the offer or ask) sends
	// now; the other node drops the tracks of others.
	Streams []string `json:"streams"`
	// Ask asks the offerer to offer again: the asker's tracks changed.
	// Audio and Video are how many more m-sections of each kind its
	// tracks need on the link of Session; AllAudio and AllVideo how many
	// they take in all, for a link made anew.
	Ask      bool `json:"ask,omitempty"`
	Audio    int  `json:"audio,omitempty"`
	Video    int  `json:"video,omitempty"`
	AllAudio int  `json:"allAudio,omitempty"`
	AllVideo int  `json:"allVideo,omitempty"`
}

type linkAnswer struct {
	SDP   string `json:"sdp,omitempty"`
	Error string `json:"error,omitempty"`
}

// linkAsk is what the offerer keeps of a node's last ask.
type linkAsk struct {
	streams                          []string
	session                          string
	audio, video, allAudio, allVideo int
	// again is set by an ask that needs an offer, until a pass made it.
	again bool
}

// askedState is what an answering node last asked, and when.
type askedState struct {
	streams []string
	session string
	at      time.Time
}

// gatherWait bounds the wait for a link's candidates (host candidates
// only: milliseconds).
const gatherWait = 2 * time.Second

// askAgain is how long a node that answers waits for the offer it asked
// for before it asks again.
const askAgain = 2 * time.Second

// nodeLink is the link with one other node.
type nodeLink struct {
	node    string
	session string
	// offers is whether this node offers on it (its name sorts lower).
	offers bool
	pc     *webrtc.PeerConnection
	failed atomic.Bool
	// nego runs one change of the connection's transceivers at a time:
	// a pass of keepLinks, an offer, an answer.
	nego sync.Mutex
	// answered is when an offer on it was last answered (unix
	// nanoseconds), 0 before.
	answered atomic.Int64
	out      *outLink
	in       *inLink
}

func newSession() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newLink makes the connection of a link with node. The offering node's
// is on UDP sockets of its own, the answering node's on the shared ones
// (sfu.API.NewLinkConnection).
func (n *Node) newLink(node, session string, offers bool) (*nodeLink, error) {
	log := n.log.With("link", node)
	pc, eg, err := n.api.NewLinkConnection(offers, log)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	tr := n.trafficLocked(node)
	n.mu.Unlock()
	l := &nodeLink{node: node, session: session, offers: offers, pc: pc}
	l.out = &outLink{node: node, session: session, pc: pc, egress: eg,
		reports: n.api.NewReporter(eg, pc.WriteRTCP), downs: map[sendKey]*linkSender{}, sent: tr}
	l.in = &inLink{node: node, session: session, pc: pc, byID: map[string]*relayed{}, received: tr,
		layered: map[string]*relayed{}, wishes: map[string]layerWish{}}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		log.Info("node link", "state", s.String(), "offers", offers)
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			l.failed.Store(true)
			// Not on this goroutine: pion may call this from Close.
			go n.dropLink(l)
		}
	})
	pc.OnTrack(n.onTrack(l.in, log))
	return l, nil
}

// close stops the link's sending and closes its connection.
func (l *nodeLink) close() {
	l.out.release()
	_ = l.pc.Close()
}

// dropLink forgets a link that ended or is no longer wanted: it closes,
// its tracks leave their stages, and a new one is made if one is needed.
func (n *Node) dropLink(l *nodeLink) {
	n.mu.Lock()
	if n.links[l.node] == l {
		delete(n.links, l.node)
	}
	n.mu.Unlock()
	l.close()
	n.unrelay(l.in.forgetAll())
	n.wake()
}

// dropLinksFrom closes the link with node, gone: its tracks leave their
// stages now rather than when its connection times out.
func (n *Node) dropLinksFrom(node string) {
	n.mu.Lock()
	l := n.links[node]
	delete(n.asks, node)
	delete(n.asked, node)
	n.mu.Unlock()
	if l != nil {
		n.dropLink(l)
	}
}

// wanted is what this node's links should send now: for each live node,
// the tracks published here in the rooms it has members in.
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
// links made, renegotiated (or asked to be), closed, and made anew after
// they failed.
func (n *Node) keepLinks() {
	want := n.wanted()
	n.mu.Lock()
	nodes := map[string]bool{}
	for node := range want {
		nodes[node] = true
	}
	for node := range n.links {
		nodes[node] = true
	}
	for node := range n.asks {
		nodes[node] = true
	}
	for node := range n.asked {
		nodes[node] = true
	}
	n.mu.Unlock()
	for node := range nodes {
		if n.ctx.Err() != nil {
			return
		}
		if n.name < node {
			n.keepOffered(node, want[node])
		} else {
			n.keepAnswered(node, want[node])
		}
	}
}

// keepOffered keeps the link this node offers to node: it sends tracks
// and takes what node asked to send.
func (n *Node) keepOffered(node string, tracks map[*sfu.Track]string) {
	n.mu.Lock()
	ask := n.asks[node]
	if ask.again {
		a := ask
		a.again = false
		n.asks[node] = a
	}
	l := n.links[node]
	n.mu.Unlock()
	if l != nil && (l.failed.Load() || len(tracks) == 0 && len(ask.streams) == 0) {
		n.log.Info("node link closed", "link", node, "failed", l.failed.Load())
		n.dropLink(l)
		l = nil
	}
	if len(tracks) == 0 && len(ask.streams) == 0 {
		return
	}
	made := false
	if l == nil {
		var err error
		if l, err = n.newLink(node, newSession(), true); err != nil {
			n.log.Warn("node link", "link", node, "err", err)
			return
		}
		n.mu.Lock()
		n.links[node] = l
		n.mu.Unlock()
		n.log.Info("node link opened", "link", node)
		made = true
	}
	l.nego.Lock()
	defer l.nego.Unlock()
	// This node's tracks first: AddTrack would take a recvonly
	// transceiver added below for the other node's, not yet negotiated.
	changed, err := l.out.set(tracks)
	if err == nil {
		audio, video := 0, 0
		switch {
		case made:
			audio, video = ask.allAudio, ask.allVideo
		case ask.again && ask.session == l.session:
			audio, video = ask.audio, ask.video
			changed = true
		}
		err = l.addRecv(audio, video)
		changed = changed || audio+video > 0
	}
	if err == nil && (changed || l.answered.Load() == 0) {
		err = n.negotiate(l)
	}
	if err != nil {
		// Made anew at the next pass.
		n.log.Warn("node link", "link", node, "err", err)
		l.failed.Store(true)
	}
}

// addRecv adds m-sections in which the other node will send tracks.
func (l *nodeLink) addRecv(audio, video int) error {
	for kind, k := range map[webrtc.RTPCodecType]int{webrtc.RTPCodecTypeAudio: audio, webrtc.RTPCodecTypeVideo: video} {
		for range k {
			if _, err := l.pc.AddTransceiverFromKind(kind,
				webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return err
			}
		}
	}
	return nil
}

// negotiate offers the link's tracks to the other node and takes its
// answer; l.nego is held.
func (n *Node) negotiate(l *nodeLink) error {
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
	req, _ := json.Marshal(linkOffer{From: n.name, Session: l.session,
		SDP: n.onlyMediaAddr(l.pc.LocalDescription().SDP), Streams: l.out.streams()})
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
	l.answered.Store(time.Now().UnixNano())
	return nil
}

// keepAnswered keeps the link node offers to this node: it attaches the
// tracks to send, and asks node to offer again when they changed, when
// some lack an m-section, or when there is no link and there are tracks
// to send.
func (n *Node) keepAnswered(node string, tracks map[*sfu.Track]string) {
	n.mu.Lock()
	l := n.links[node]
	last := n.asked[node]
	n.mu.Unlock()
	ask := linkOffer{From: n.name, Ask: true}
	for k, st := range linkTracks(tracks) {
		if k.t.Kind() == webrtc.RTPCodecTypeAudio {
			ask.AllAudio++
		} else {
			ask.AllVideo++
		}
		ask.Streams = append(ask.Streams, st)
	}
	slices.Sort(ask.Streams)
	ask.Streams = slices.Compact(ask.Streams)
	if l != nil && l.failed.Load() {
		l = nil
	}
	if l != nil {
		l.nego.Lock()
		_, err := l.out.set(tracks)
		ask.Audio, ask.Video = l.unplaced()
		l.nego.Unlock()
		if err != nil {
			n.log.Warn("node link", "link", node, "err", err)
			n.dropLink(l)
			l = nil
		}
	}
	if l != nil {
		ask.Session = l.session
	} else {
		ask.Audio, ask.Video = ask.AllAudio, ask.AllVideo
	}
	pending := ask.Audio+ask.Video > 0
	if slices.Equal(last.streams, ask.Streams) && last.session == ask.Session &&
		(!pending || time.Since(last.at) < askAgain) {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, requestTimeout)
	defer cancel()
	reply, err := n.nc.RequestWithContext(ctx, linkSubject+"."+node, mustJSON(ask))
	if err == nil {
		var ans linkAnswer
		if err = json.Unmarshal(reply.Data, &ans); err == nil && ans.Error != "" {
			err = fmt.Errorf("%s refused: %s", node, ans.Error)
		}
	}
	if err != nil {
		n.log.Warn("node link: ask for an offer", "link", node, "err", err)
		return
	}
	n.mu.Lock()
	n.asked[node] = askedState{streams: ask.Streams, session: ask.Session, at: time.Now()}
	if len(ask.Streams) == 0 && ask.Session == "" {
		delete(n.asked, node)
	}
	n.mu.Unlock()
}

// unplaced counts the link's senders that no negotiated m-section
// carries yet, by kind; l.nego is held.
func (l *nodeLink) unplaced() (audio, video int) {
	for _, t := range l.pc.GetTransceivers() {
		if t.Sender() == nil || t.Mid() != "" {
			continue
		}
		if t.Kind() == webrtc.RTPCodecTypeAudio {
			audio++
		} else {
			video++
		}
	}
	return audio, video
}

// handleLink answers an offer, or takes an ask.
func (n *Node) handleLink(msg *nats.Msg) {
	var o linkOffer
	if err := json.Unmarshal(msg.Data, &o); err != nil || o.From == "" || o.From == n.name {
		_ = msg.Respond(mustJSON(linkAnswer{Error: "bad offer"}))
		return
	}
	if o.Ask {
		if err := n.takeAsk(o); err != nil {
			n.log.Warn("node link ask refused", "link", o.From, "err", err)
			_ = msg.Respond(mustJSON(linkAnswer{Error: err.Error()}))
			return
		}
		_ = msg.Respond(mustJSON(linkAnswer{}))
		return
	}
	sdp, err := n.answerLink(o)
	if err != nil {
		n.log.Warn("node link offer refused", "link", o.From, "err", err)
		_ = msg.Respond(mustJSON(linkAnswer{Error: err.Error()}))
		return
	}
	_ = msg.Respond(mustJSON(linkAnswer{SDP: sdp}))
}

var (
	errNotOfferer  = fmt.Errorf("the node whose name sorts lower offers")
	errNotAnswerer = fmt.Errorf("the node whose name sorts higher asks")
)

// takeAsk records what a node that this one offers to asked; the next
// pass offers.
func (n *Node) takeAsk(o linkOffer) error {
	if n.ctx.Err() != nil {
		return errClosed
	}
	if o.From < n.name {
		return errNotAnswerer
	}
	n.mu.Lock()
	prev := n.asks[o.From]
	n.asks[o.From] = linkAsk{streams: o.Streams, session: o.Session, audio: o.Audio, video: o.Video,
		allAudio: o.AllAudio, allVideo: o.AllVideo,
		again: prev.again || o.Audio+o.Video > 0 || !slices.Equal(prev.streams, o.Streams)}
	l := n.links[o.From]
	n.mu.Unlock()
	if l != nil {
		if at := l.answered.Load(); o.Session == "" && at != 0 && time.Since(time.Unix(0, at)) > askAgain {
			// The other node has lost the link this one still has.
			l.failed.Store(true)
		} else {
			go n.unrelay(l.in.keepOnly(o.Streams))
		}
	}
	n.wake()
	return nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// answerLink answers an offer: on the link of its session (a new session
// replaces the link), with this node's tracks attached.
func (n *Node) answerLink(o linkOffer) (string, error) {
	if n.ctx.Err() != nil {
		return "", errClosed
	}
	if o.From > n.name {
		return "", errNotOfferer
	}
	// Offers come one at a time (one subscription), and only they make
	// links here: no other link with o.From is made meanwhile.
	n.mu.Lock()
	l := n.links[o.From]
	n.mu.Unlock()
	if l != nil && l.session != o.Session {
		n.dropLink(l)
		l = nil
	}
	if l == nil {
		var err error
		if l, err = n.newLink(o.From, o.Session, false); err != nil {
			return "", err
		}
		n.mu.Lock()
		n.links[o.From] = l
		n.mu.Unlock()
	}
	l.nego.Lock()
	defer l.nego.Unlock()
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
		return "", err
	}
	// This node's tracks take the m-sections offered for them; those
	// that find none wait for the next offer (keepAnswered asks).
	if _, err := l.out.set(n.wanted()[o.From]); err != nil {
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
	l.answered.Store(time.Now().UnixNano())
	// Tracks the other node no longer sends leave their stages.
	go n.unrelay(l.in.keepOnly(o.Streams))
	n.wake()
	return n.onlyMediaAddr(l.pc.LocalDescription().SDP), nil
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
