// Package cluster makes meetd nodes serve rooms together: what they must
// agree on (which nodes are alive, who is in which room on which node, the
// chat) lives in NATS with JetStream, and media crosses between nodes on
// node links, peer connections from the node a track is published on to
// each node with members in its room (docs/cluster.md).
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
)

// Presence: every node puts its key in the nodes bucket every
// heartbeatEvery; one not heard from for nodeTimeout is gone. Together
// they bound how long a killed node's participants stay in lists.
const (
	heartbeatEvery = time.Second
	nodeTimeout    = 3 * time.Second
	// requestTimeout bounds one NATS request (a node link's offer).
	requestTimeout = 5 * time.Second
	// DefaultStartTimeout is how long a starting node waits for NATS
	// (Config.StartTimeout); startRetry is the pause between tries.
	DefaultStartTimeout = 30 * time.Second
	startRetry          = time.Second
)

// Names in NATS.
const (
	nodesBucket   = "meetd_nodes"
	membersBucket = "meetd_members"
	chatStream    = "MEETD_CHAT"
	chatSubject   = "meetd.chat"
	linkSubject   = "meetd.link"
	// beatSubject.<node> carries the node's heartbeats; an empty one
	// says it leaves.
	beatSubject = "meetd.heartbeat"
)

// Config is how a node joins its cluster.
type Config struct {
	// URLs are the NATS servers.
	URLs []string
	// Name is the node's name, unique in the cluster.
	Name string
	// MediaAddr, when set, is the one IP address whose candidates node
	// links offer.
	MediaAddr string
	// StartTimeout bounds how long Start waits for NATS to be reachable
	// and ready (JetStream answering): services may start in any order,
	// and a NATS just started may drop its first connections. Zero is
	// DefaultStartTimeout.
	StartTimeout time.Duration
	API          *sfu.API
	Log          *slog.Logger
}

// Node is this meetd in its cluster. It implements room.Cluster.
type Node struct {
	name      string
	mediaAddr string
	api       *sfu.API
	log       *slog.Logger
	nc        *nats.Conn
	js        jetstream.JetStream
	nodes     jetstream.KeyValue
	members   jetstream.KeyValue
	stages    jetstream.KeyValue
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	// kick wakes the loop that writes this node's members and keeps its
	// node links (run); it never blocks.
	kick chan struct{}
	// sub, moves and layers take node link offers, moves of this node's
	// members (roles.go) and edges' wishes of layers (layers.go).
	sub, moves, layers *nats.Subscription
	// leave makes Leave happen once.
	leave sync.Once

	// mu protects everything below.
	mu sync.Mutex
	// alive is when each other node was last heard from, by this node's
	// clock.
	alive map[string]time.Time
	// since is when this node's NATS connection last came up: nobody is
	// counted gone before it has had nodeTimeout to be heard again.
	since time.Time
	rooms map[roomKey]*roomState
	// dirty are the rooms whose members this node must write.
	dirty map[roomKey]bool
	// links are the node links, one per other node (link.go); asks
	// are what each node this one offers to last asked of it, and asked
	// what this node last asked of each node that offers to it.
	links map[string]*nodeLink
	asks  map[string]linkAsk
	asked map[string]askedState
	// claims are the broadcasts' stages this node holds (stage.go).
	claims map[string]claim
	// traffic is what links carried to and from each node, kept past
	// the links (metrics.go).
	traffic map[string]*traffic
	// connErr is why the last try to connect to NATS failed, for the
	// start-up's log.
	connErr error

	stats Stats
}

// Stats are what /metrics tells of the cluster.
type Stats struct {
	// Nodes counts the live nodes, this one included.
	Nodes int
	// Links counts node links (peer connections, one per other node at
	// most); LinksOut those that carry tracks of this node's, LinksIn
	// those that bring tracks of the other node's (a link can do both);
	// TracksOut and TracksIn the tracks they carry, sent and received.
	Links, LinksOut, LinksIn, TracksOut, TracksIn int
	// Connected is whether the NATS connection is up.
	Connected bool
	// Sent and Received are the bytes links carried, by the node at the
	// other end, since this node started.
	Sent, Received map[string]uint64
}

type roomKey struct {
	kind room.Kind
	name string
}

// key is the room's part of NATS names: "b.default", "m.standup".
func (k roomKey) key() string {
	if k.kind == room.Meeting {
		return "m." + k.name
	}
	return "b." + k.name
}

// roomState is a room open on this node, as the cluster sees it.
type roomState struct {
	r *room.Room
	// remote are the entries of the other nodes, alive or not.
	remote map[string][]room.RemoteMember
	// applied are the nodes whose members r holds now.
	applied map[string]bool
	stop    context.CancelFunc
	// rewatch and rechat make the room's watch and chat consumer start
	// anew (NATS came back).
	rewatch, rechat chan struct{}
}

// Name makes s a node name NATS can use in keys and subjects: letters,
// digits, '-' and '_'; anything else becomes '-'.
func Name(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	return string(b)
}

// Start connects to NATS, makes the buckets and streams the cluster uses
// if they are not there, and starts the node's heartbeat. While NATS is
// not reachable or not ready it tries again, for cfg.StartTimeout, or
// until ctx is done (meetd told to stop while it waits).
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Name == "" || Name(cfg.Name) != cfg.Name {
		return nil, fmt.Errorf("node name %q: use letters, digits, '-' and '_'", cfg.Name)
	}
	life, cancel := context.WithCancel(context.Background())
	n := &Node{
		name: cfg.Name, mediaAddr: cfg.MediaAddr, api: cfg.API, log: cfg.Log.With("node", cfg.Name),
		ctx: life, cancel: cancel, kick: make(chan struct{}, 1),
		alive: map[string]time.Time{}, since: time.Now(), rooms: map[roomKey]*roomState{}, dirty: map[roomKey]bool{},
		links: map[string]*nodeLink{}, asks: map[string]linkAsk{}, asked: map[string]askedState{}, claims: map[string]claim{},
		traffic: map[string]*traffic{},
	}
	urls := strings.Join(cfg.URLs, ",")
	var err error
	n.nc, err = nats.Connect(urls,
		nats.Name("meetd "+cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		// A server not listening yet is tried again like a lost one;
		// setup bounds the wait.
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { n.log.Warn("NATS connection lost", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { n.reconnected(c) }),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			n.mu.Lock()
			n.connErr = err
			n.mu.Unlock()
		}),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("connect to NATS %s: %w", urls, err)
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	if err := n.setupWithin(ctx, timeout); err != nil {
		n.nc.Close()
		cancel()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stopped while waiting for NATS %s: %w", urls, err)
		}
		return nil, fmt.Errorf("NATS %s not ready after %v (-nats-start-timeout): %w", urls, timeout, err)
	}
	n.mu.Lock()
	n.since = time.Now()
	n.mu.Unlock()
	n.wg.Add(3)
	go n.heartbeat()
	go n.watchNodes()
	go n.run()
	n.log.Info("joined the cluster", "nats", n.nc.ConnectedUrlRedacted())
	return n, nil
}

// errNotConnected is why a start-up try was not made.
var errNotConnected = errors.New("not connected")

// setupWithin makes what the cluster keeps in NATS (setup), trying again
// while NATS is not reachable or does not answer, for up to timeout: a
// node started beside a NATS that is starting too, or away for a moment,
// joins once it is there rather than exit. It gives up when ctx is done.
func (n *Node) setupWithin(ctx context.Context, timeout time.Duration) error {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return err
	}
	n.js = js
	deadline := time.Now().Add(timeout)
	for try := 1; ; try++ {
		if n.nc.IsConnected() {
			try, cancel := context.WithTimeout(ctx, min(max(time.Until(deadline), startRetry), requestTimeout))
			err = n.setup(try)
			cancel()
			if err == nil {
				break
			}
		} else {
			n.mu.Lock()
			err = n.connErr
			n.mu.Unlock()
			if err == nil {
				err = n.nc.LastError()
			}
			if err == nil {
				err = errNotConnected
			} else {
				err = fmt.Errorf("%w: %w", errNotConnected, err)
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return err
		}
		n.log.Warn("NATS not ready at start: trying again", "try", try, "err", err, "left", left.Round(time.Second))
		select {
		case <-time.After(min(startRetry, left)):
		case <-ctx.Done():
			return fmt.Errorf("%w (the last try: %w)", ctx.Err(), err)
		}
	}
	if n.sub, err = n.nc.Subscribe(linkSubject+"."+n.name, n.handleLink); err != nil {
		return err
	}
	if n.moves, err = n.nc.Subscribe(moveSubject+"."+n.name, n.handleMove); err != nil {
		return err
	}
	if n.layers, err = n.nc.Subscribe(layersSubject+"."+n.name, n.handleLayers); err != nil {
		return err
	}
	return nil
}

// setup makes what the cluster keeps in NATS, and clears what this node
// left there in an earlier run. Each step may be done again.
func (n *Node) setup(ctx context.Context) error {
	var err error
	if n.nodes, err = n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: nodesBucket, Description: "meetd nodes: each puts its key every second",
		TTL: 10 * nodeTimeout, Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("NATS bucket %s (is JetStream on? nats-server -js): %w", nodesBucket, err)
	}
	if n.members, err = n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: membersBucket, Description: "meetd rooms: each node's members of each room",
		Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("NATS bucket %s: %w", membersBucket, err)
	}
	if n.stages, err = n.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: stagesBucket, Description: "meetd broadcasts: who holds each one's stage",
		Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("NATS bucket %s: %w", stagesBucket, err)
	}
	if _, err = n.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: chatStream, Description: "meetd chat: the last messages of each room",
		Subjects: []string{chatSubject + ".>"}, MaxMsgsPerSubject: room.ChatHistory,
		MaxAge: 24 * time.Hour, Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("NATS stream %s: %w", chatStream, err)
	}
	// Entries of this node's previous run.
	keys, err := n.members.ListKeysFiltered(ctx, "*.*."+n.name)
	if err != nil {
		return fmt.Errorf("NATS bucket %s, this node's old entries: %w", membersBucket, err)
	}
	for k := range keys.Keys() {
		if err := n.members.Delete(ctx, k); err != nil {
			return fmt.Errorf("NATS bucket %s, this node's old entry %s: %w", membersBucket, k, err)
		}
	}
	return nil
}

// Leave takes the node out of the cluster at once, before its clients are
// told to reconnect elsewhere (a clean shutdown): its heartbeat and passes
// stop, and its key, its members' entries and its stage claims go, and the
// others hear it leave, so a client reconnecting to another node finds its
// old self gone and its broadcast's stage free, with no heartbeat timeout.
// Its node links are closed in Close; the others close theirs with it as
// soon as they hear it leave.
func (n *Node) Leave() { n.leave.Do(n.leaveCluster) }

func (n *Node) leaveCluster() {
	n.mu.Lock()
	n.cancel() // under n.mu: no room opens (Opened) past it
	n.mu.Unlock()
	n.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n.mu.Lock()
	keys := make([]string, 0, len(n.rooms)+len(n.dirty))
	for k := range n.rooms {
		keys = append(keys, k.key()+"."+n.name)
	}
	for k := range n.dirty {
		if n.rooms[k] == nil { // closed: not written since
			keys = append(keys, k.key()+"."+n.name)
		}
	}
	claims := n.claims
	n.claims = map[string]claim{}
	n.mu.Unlock()
	if !n.nc.IsConnected() {
		return
	}
	// The leave first: the others drop this node's members at once.
	_ = n.nc.Publish(beatSubject+"."+n.name, nil)
	for _, k := range keys {
		_ = n.members.Delete(ctx, k)
	}
	for name, c := range claims {
		_ = n.stages.Delete(ctx, "b."+name, jetstream.LastRevision(c.revision))
	}
	_ = n.nodes.Delete(ctx, n.name)
	_ = n.nc.FlushWithContext(ctx)
}

// Close leaves the cluster (Leave, if not done yet) and closes the node's
// links and its NATS connection.
func (n *Node) Close() {
	n.Leave()
	n.mu.Lock()
	links := n.links
	n.links = map[string]*nodeLink{}
	n.mu.Unlock()
	for _, l := range links {
		l.close()
	}
	_ = n.sub.Unsubscribe()
	_ = n.moves.Unsubscribe()
	_ = n.layers.Unsubscribe()
	n.nc.Close()
}

// Kill stops the node as a crash would, leaving its entries behind; for
// tests of a node that dies.
func (n *Node) Kill() {
	n.mu.Lock()
	n.cancel()
	n.mu.Unlock()
	n.nc.Close()
	n.wg.Wait()
	n.mu.Lock()
	links := n.links
	n.links = map[string]*nodeLink{}
	n.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Name is the node's name in the cluster.
func (n *Node) Name() string { return n.name }

// Stats are the cluster's figures now.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := Stats{Nodes: 1 + len(n.alive), Connected: n.nc.IsConnected()}
	s.Sent, s.Received = map[string]uint64{}, map[string]uint64{}
	for node, t := range n.traffic {
		s.Sent[node], s.Received[node] = t.sent.Load(), t.received.Load()
	}
	s.Links = len(n.links)
	for _, l := range n.links {
		if l.out.tracks.Load() > 0 {
			s.LinksOut++
		}
		if l.in.tracks.Load() > 0 {
			s.LinksIn++
		}
		s.TracksOut += int(l.out.tracks.Load())
		s.Sent[l.node] += l.out.bytes()
		s.TracksIn += int(l.in.tracks.Load())
		s.Received[l.node] += l.in.bytes()
	}
	return s
}

// wake asks run to do a pass soon.
func (n *Node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// heartbeat puts the node's key every heartbeatEvery.
func (n *Node) heartbeat() {
	defer n.wg.Done()
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	value, _ := json.Marshal(nodeInfo{MediaAddr: n.mediaAddr})
	for {
		// Not held for the connection's return: a late heartbeat says
		// nothing.
		if n.nc.IsConnected() {
			_ = n.nc.Publish(beatSubject+"."+n.name, value)
		}
		ctx, cancel := context.WithTimeout(n.ctx, heartbeatEvery)
		_, err := n.nodes.Put(ctx, n.name, value)
		cancel()
		if err != nil && n.ctx.Err() == nil {
			n.log.Debug("heartbeat", "err", err)
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}

type nodeInfo struct {
	MediaAddr string `json:"mediaAddr,omitempty"`
}

// reconnected follows the NATS connection coming back: liveness counts
// from now, and this node's entries are written again (another node may
// have taken it for gone and removed them meanwhile).
func (n *Node) reconnected(c *nats.Conn) {
	n.log.Info("NATS connection back", "url", c.ConnectedUrlRedacted())
	n.mu.Lock()
	n.since = time.Now()
	for k, rs := range n.rooms {
		n.dirty[k] = true
		for _, c := range []chan struct{}{rs.rewatch, rs.rechat} {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
	n.mu.Unlock()
	go n.resendWishes()
	n.wake()
}

// watchNodes follows the heartbeats, and counts a node gone once it has
// not been heard from for nodeTimeout. They come on a plain subject, not
// from the nodes bucket: a subscription is back as soon as the connection
// is, where a watch of the bucket (a JetStream consumer) may take seconds
// to be made anew after NATS restarted, and every node would seem gone.
func (n *Node) watchNodes() {
	defer n.wg.Done()
	beats := make(chan *nats.Msg, 256)
	sub, err := n.nc.ChanSubscribe(beatSubject+".*", beats)
	if err != nil {
		n.log.Error("heartbeats", "err", err)
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	t := time.NewTicker(heartbeatEvery / 2)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case m := <-beats:
			node := m.Subject[len(beatSubject)+1:]
			if node == n.name {
				continue
			}
			n.mu.Lock()
			_, known := n.alive[node]
			if len(m.Data) > 0 {
				n.alive[node] = time.Now()
			} else {
				delete(n.alive, node)
			}
			_, now := n.alive[node]
			n.mu.Unlock()
			if known != now {
				n.log.Info("node", "peer", node, "alive", now)
				if !now {
					n.dropLinksFrom(node)
				}
				n.nodesChanged()
			}
		case <-t.C:
			n.expire()
		}
	}
}

// expire drops the nodes not heard from for nodeTimeout, unless this
// node's own connection was away meanwhile (then it cannot tell).
func (n *Node) expire() {
	now := time.Now()
	n.mu.Lock()
	if !n.nc.IsConnected() {
		n.since = now
	}
	var gone []string
	if now.Sub(n.since) >= nodeTimeout {
		for node, seen := range n.alive {
			if now.Sub(seen) >= nodeTimeout {
				delete(n.alive, node)
				gone = append(gone, node)
			}
		}
	}
	n.mu.Unlock()
	if len(gone) > 0 {
		n.log.Warn("nodes gone: no heartbeat", "peers", gone, "after", nodeTimeout)
		for _, node := range gone {
			n.dropLinksFrom(node)
		}
		n.nodesChanged()
	}
}

// nodesChanged applies a change of the live nodes to every room.
func (n *Node) nodesChanged() {
	n.mu.Lock()
	rooms := make([]*roomState, 0, len(n.rooms))
	for _, rs := range n.rooms {
		rooms = append(rooms, rs)
	}
	n.mu.Unlock()
	for _, rs := range rooms {
		n.apply(rs)
	}
	n.wake()
}

// isAlive says whether node is live; n.mu must be held.
func (n *Node) isAliveLocked(node string) bool {
	_, ok := n.alive[node]
	return ok
}

var errClosed = errors.New("the node left the cluster")

// connected is the NATS connection's state, for tests.
func (n *Node) connected() bool { return n.nc.IsConnected() }

// counter is an atomic count shared by links.
type counter = atomic.Int64

// BreakLinks closes the peer connections of the node's links, as a
// network that fails would end them; for tests of links made anew.
func (n *Node) BreakLinks() {
	n.mu.Lock()
	var pcs []*webrtc.PeerConnection
	for _, l := range n.links {
		pcs = append(pcs, l.pc)
	}
	n.mu.Unlock()
	for _, pc := range pcs {
		_ = pc.Close()
	}
}
