// Package client runs one connected client: its signaling messages, its
// place in a room, and its publish and subscribe peer connections. One
// goroutine per client owns all of that; everything else posts work to it.
package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
)

// DefaultRoom is the broadcast that / and /viewer, and clients that never
// send join, use.
const DefaultRoom = "default"

// plainJoinDelay is how long a silent connection waits before it is taken
// for an original viewer and joins the default broadcast's audience.
const plainJoinDelay = 250 * time.Millisecond

// Env is what every client of a server shares.
type Env struct {
	API   *sfu.API
	Rooms *room.Directory
	// ICEServers are handed to every client in joined (external servers).
	ICEServers []signal.ICEServer
	// Access decides who may join which room; nil lets everyone in.
	Access *access.Policy
	// Metrics counts what happens, when set.
	Metrics interface {
		SignalingError(code string)
		ICERestart(target string)
	}
	// TURN, when set, issues a participant's own ICE servers (meetd's TURN
	// server with a short-lived credential) for a client that reached meetd
	// by host; they come before ICEServers in joined.
	TURN func(host, participant string) []signal.ICEServer
	Log  *slog.Logger

	// TURNRevoke, when set, is called once when a client goes away, so
	// that its TURN credentials stop working and its relays close.
	TURNRevoke func(participant string)
	// Recorder records rooms; nil when recording is off.
	Recorder Recorder

	// Stages, when meetd is a node of a cluster, holds the one streamer
	// of each broadcast cluster-wide.
	Stages interface {
		ClaimStage(name, participant string) error
	}
}

// Conn is how a client exchanges messages: a WebSocket (*signal.Conn), or
// an HTTP session of a WHIP publisher or WHEP player that translates its
// requests into messages.
type Conn interface {
	// Incoming delivers the client's messages; it is closed when the
	// client goes away.
	Incoming() <-chan signal.Incoming
	// Send and SendError queue a message for the client without blocking.
	Send(signal.Message)
	SendError(error)
	// Close ends the connection; reason is nil for a normal close.
	Close(reason error)
}

// Mode is how a client negotiates its peer connections.
type Mode int

const (
	// WebSocket clients speak docs/protocol.md: trickled candidates, meetd
	// offers the subscribe connection.
	WebSocket Mode = iota
	// WHIP clients publish with one offer; meetd's answer carries all of
	// its candidates, and the session ends with the publish connection.
	WHIP
	// WHEP clients offer a receive-only connection; meetd answers with the
	// broadcast's audio and video, and ends the session when it stops.
	WHEP
)

// Client is one connected client. Its fields after queue are owned by Run's
// goroutine.
type Client struct {
	id    string
	env   *Env
	conn  Conn
	mode  Mode
	host  string // the host the client reached meetd by
	log   *slog.Logger
	queue *queue
	// remote is the client's network address; paths its ICE paths;
	// recv what its subscribe connection receives.
	remote string
	paths  paths
	recv   atomic.Pointer[reception]
	// notified coalesces room change notifications into one reconcile.
	notified atomic.Bool

	room *room.Room
	role room.Role
	name string
	// invitation is the host's last invitation to the stage the client
	// was told of.
	invitation uint64
	plain      bool // an original streamer/viewer client: never sent join
	// explicit is set once the client has sent join.
	explicit bool
	// early holds candidates that came before the first offer.
	early []webrtc.ICECandidateInit
	pub   *publisher
	sub   *subscriber
	// views are what the client said of how it shows each stream's video.
	views map[string]sfu.View
	// unanswered counts offers of subscribe connections closed before
	// their answer came; those answers are expected and ignored.
	unanswered int
	// What the client was last told, to send only changes.
	lastState   *signal.Message
	lastStateAt time.Time
	// stateDue is set while a state held back (viewerCountEvery) waits.
	stateDue         bool
	lastParticipants []byte
	// lastNear is the stage, invited members and the client itself, as
	// last sent; lastParticipantsAt when the whole list last went out, and
	// participantsDue is set while a list held back waits.
	lastNear           []byte
	lastParticipantsAt time.Time
	participantsDue    bool
	lastSpeaker        *string
	chatSeq            uint64
	chatSynced         bool
	// lastRecording is the id of the recording the client was last told
	// is on, empty for none.
	lastRecording string
	// relayWaited is how long a WHEP player waited for a broadcast's
	// tracks to come from another node (playback.go).
	relayWaited time.Duration
	chatLimit   *rate.Limiter
	msgLimit    *rate.Limiter
	dropped     floodMeter
}

// maxDropped is how many messages over the rate limit, within
// droppedWindow, close a connection: a client that floods is cut off, one
// that bursts now and then over a long life is not.
const (
	maxDropped    = 1000
	droppedWindow = time.Minute
)

// floodMeter counts a client's messages dropped over the rate limit in
// windows of droppedWindow.
type floodMeter struct {
	n     int
	since time.Time
}

// drop counts one message dropped at now and returns how many were in
// this window.
func (f *floodMeter) drop(now time.Time) int {
	if now.Sub(f.since) > droppedWindow {
		f.n, f.since = 0, now
	}
	f.n++
	return f.n
}

// New makes a client for conn, which comes from the address remote and
// reached meetd by host (the request's Host: a name or address of meetd
// that works from where the client is).
func New(env *Env, conn Conn, remote, host string) *Client {
	return NewMode(env, conn, remote, host, WebSocket)
}

// NewMode makes a client that negotiates as mode says.
func NewMode(env *Env, conn Conn, remote, host string, mode Mode) *Client {
	id := newID()
	return &Client{
		id:     id,
		env:    env,
		conn:   conn,
		mode:   mode,
		remote: remote,
		host:   host,
		log:    env.Log.With("participant", id),
		queue:  newQueue(),
		// A person types a few messages a second at most.
		chatLimit: rate.NewLimiter(5, 10),
		// Negotiation sends bursts of candidates; nothing needs more.
		msgLimit: rate.NewLimiter(50, 200),
	}
}

func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ID implements room.Member.
func (c *Client) ID() string { return c.id }

// Notify implements room.Member.
func (c *Client) Notify() {
	if c.notified.CompareAndSwap(false, true) {
		c.queue.post(func() {
			c.notified.Store(false)
			c.reconcile()
		})
	}
}

// post runs f on the client's goroutine.
func (c *Client) post(f func()) { c.queue.post(f) }

// Run serves the client until its connection closes or ctx is done, then
// leaves its room and closes its peer connections.
func (c *Client) Run(ctx context.Context) {
	c.log.Info("client connected")
	defer c.log.Info("client gone")
	if c.env.TURNRevoke != nil {
		defer c.env.TURNRevoke(c.id)
	}
	defer c.leaveRoom()
	plainTimer := time.NewTimer(plainJoinDelay)
	defer plainTimer.Stop()
	heard := false
	for {
		select {
		case <-ctx.Done():
			// The server is going away: say so, so that clients reconnect
			// rather than report a failure.
			c.conn.SendError(signal.Errorf(signal.CodeShuttingDown, "meetd is restarting; reconnecting in a moment."))
			c.conn.Close(nil)
			return
		case in, ok := <-c.conn.Incoming():
			if !ok {
				return
			}
			heard = true
			if !c.msgLimit.Allow() {
				dropped := c.dropped.drop(time.Now())
				if dropped == 1 || dropped%100 == 0 {
					c.log.Warn("signaling rate limit", "dropped", dropped)
					c.conn.SendError(signal.Errorf(signal.CodeRateLimited, "Too many messages; some were dropped."))
				}
				if dropped >= maxDropped {
					c.conn.Close(errors.New("flooding"))
				}
				continue
			}
			c.handle(in)
		case <-plainTimer.C:
			if !heard && c.room == nil {
				c.plain = true
				c.joinRoom(room.Broadcast, DefaultRoom, room.Audience, nil)
			}
		case <-c.queue.ready:
			for _, f := range c.queue.take() {
				f()
			}
		}
	}
}

func (c *Client) fail(err error) {
	e := signal.AsError(err)
	c.log.Info("refused client message", "code", e.Code, "reason", e.Message)
	if c.env.Metrics != nil {
		c.env.Metrics.SignalingError(e.Code)
	}
	c.conn.SendError(e)
}

func (c *Client) handle(in signal.Incoming) {
	if in.Err != nil {
		c.fail(in.Err)
		return
	}
	m := in.Msg
	switch m.Type {
	case signal.TypeJoin:
		c.explicit = true
		c.plain = false
		c.leaveRoom()
		c.joinRoom(kindOf(m.Kind), m.Room, roleOf(m.Role), &m)
	case signal.TypeLeave:
		c.leaveRoom()
	case signal.TypeOffer:
		if c.mode == WHEP {
			c.handlePlaybackOffer(m.SDP)
			return
		}
		c.handleOffer(m.SDP)
	case signal.TypeAnswer:
		c.handleAnswer(m.SDP)
	case signal.TypeCandidate:
		c.handleCandidate(m.Target, m.Candidate.Init())
	case signal.TypeMedia:
		c.handleMedia(*m.Audio, *m.Video, m.Screen)
	case signal.TypeChat:
		c.handleChat(m.Text)
	case signal.TypeRole:
		c.handleRole(m)
	case signal.TypeRestart:
		c.handleRestart()
	case signal.TypeView:
		c.handleView(m.Track, *m.Width, *m.Height, m.Quality)
	case signal.TypeRecord:
		c.handleRecord(*m.On)
	default:
		c.fail(signal.Errorf(signal.CodeUnknownType, "Unknown message type %q.", m.Type))
	}
}

// targetFor picks the peer connection a candidate without a target is for.
func (c *Client) targetFor(target string) string {
	if target != "" {
		return target
	}
	switch {
	case c.sub != nil && c.pub == nil:
		return signal.TargetSubscribe
	case c.pub != nil && c.sub == nil:
		return signal.TargetPublish
	case c.pub == nil && c.sub == nil:
		// Only a streamer sends candidates before it has a connection.
		return signal.TargetPublish
	}
	return ""
}

func (c *Client) handleCandidate(target string, cand webrtc.ICECandidateInit) {
	if cand.Candidate == "" {
		return // end of candidates
	}
	switch c.targetFor(target) {
	case signal.TargetPublish:
		if c.pub == nil {
			c.logCandidateError(holdCandidate(&c.early, cand))
			return
		}
		c.logCandidateError(c.pub.addCandidate(cand))
	case signal.TargetSubscribe:
		if c.sub == nil {
			c.log.Debug("candidate for a closed subscribe connection")
			return
		}
		c.logCandidateError(c.sub.addCandidate(cand))
	default:
		c.fail(signal.Errorf(signal.CodeBadMessage, "This candidate needs a target: %q or %q.",
			signal.TargetPublish, signal.TargetSubscribe))
	}
}

// maxPendingCandidates bounds the candidates held for a connection that
// cannot take them yet.
const maxPendingCandidates = 64

var errTooManyCandidates = errors.New("too many candidates before the description they belong to")

// holdCandidate keeps a candidate until its connection can take it.
func holdCandidate(held *[]webrtc.ICECandidateInit, cand webrtc.ICECandidateInit) error {
	if len(*held) >= maxPendingCandidates {
		return errTooManyCandidates
	}
	*held = append(*held, cand)
	return nil
}

func (c *Client) logCandidateError(err error) {
	if err == nil {
		return
	}
	if errors.Is(err, errCandidateUnused) {
		c.log.Debug("candidate left out", "err", err)
		return
	}
	if errors.Is(err, errTooManyCandidates) {
		c.fail(signal.Errorf(signal.CodeWrongState, "Too many candidates before an offer or answer."))
		return
	}
	c.log.Info("candidate refused", "err", err)
}
