// Package testclient is a Go client of meetd's /ws protocol built on pion:
// it publishes synthetic audio and video or subscribes and counts what
// arrives. Integration tests and load tools drive a real meetd with it.
package testclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
)

// Options shape a client.
type Options struct {
	// Plain clients behave like the original streamer/viewer pages: no join,
	// candidates without a target.
	Plain bool
	// API, when set, builds the client's peer connections; many clients can
	// share one. By default each client makes its own with pion's default
	// codecs and interceptors.
	API *webrtc.API
	// Media, when set, writes what Publish sends in place of the default
	// synthetic audio and video.
	Media Media
	// OnTrack, when set, is given every track a subscribe connection
	// receives, on a goroutine of its own, in place of the client's own
	// counting: it reads the track until it ends. Stats then stay empty.
	OnTrack func(*webrtc.TrackRemote)
}

// Client is one connection to meetd.
type Client struct {
	opts Options
	api  *webrtc.API
	ws   *websocket.Conn
	ctx  context.Context
	stop context.CancelFunc

	// mu protects the fields below it.
	mu       sync.Mutex
	pub      *webrtc.PeerConnection
	sub      *webrtc.PeerConnection
	subs     int // subscribe connections made
	errs     []signal.Message
	states   []signal.Message
	joined   *signal.Message
	stats    map[webrtc.RTPCodecType]*Stats
	media    *publishedMedia
	changed  chan struct{} // closed and replaced on every change
	pendPub  []webrtc.ICECandidateInit
	answered bool

	done chan struct{}
}

// Stats are what one client received of one kind of media.
type Stats struct {
	Packets int
	// FirstIsKeyframe reports whether the first video packet of each
	// subscribe connection started a keyframe.
	FirstIsKeyframe []bool
	// Gaps counts sequence numbers skipped within one track.
	Gaps int
}

func newAPI() (*webrtc.API, error) {
	return NewAPI(func(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
		return webrtc.RegisterDefaultInterceptors(m, ir)
	})
}

// NewAPI builds a pion API for clients on loopback with pion's default
// codecs; interceptors, when not nil, registers the interceptors to use.
func NewAPI(interceptors func(*webrtc.MediaEngine, *interceptor.Registry) error) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if interceptors != nil {
		if err := interceptors(m, ir); err != nil {
			return nil, err
		}
	}
	s := webrtc.SettingEngine{}
	s.SetIncludeLoopbackCandidate(true)
	s.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(s)), nil
}

// Dial connects to meetd's WebSocket at url (ws://host/ws).
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	api := opts.API
	if api == nil {
		var err error
		if api, err = newAPI(); err != nil {
			return nil, err
		}
	}
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	cctx, stop := context.WithCancel(context.Background())
	c := &Client{
		opts: opts, api: api, ws: ws, ctx: cctx, stop: stop,
		stats:   map[webrtc.RTPCodecType]*Stats{webrtc.RTPCodecTypeAudio: {}, webrtc.RTPCodecTypeVideo: {}},
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// Close closes the peer connections and the socket.
func (c *Client) Close() {
	c.stop()
	c.mu.Lock()
	pub, sub, media := c.pub, c.sub, c.media
	c.mu.Unlock()
	// Closing the publish connection ends the goroutine reading its RTCP.
	if pub != nil {
		_ = pub.Close()
	}
	if media != nil {
		media.wait()
	}
	if sub != nil {
		_ = sub.Close()
	}
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}

func (c *Client) send(m signal.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, data)
}

// SendRaw sends data as one text message, as it is.
func (c *Client) SendRaw(data []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, data)
}

// changedLocked wakes everyone waiting for a change; c.mu is held.
func (c *Client) changedLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Wait blocks until cond, checked after every change, is true, or ctx
// ends. cond may call the client's methods.
func (c *Client) Wait(ctx context.Context, what string, cond func() bool) error {
	for {
		c.mu.Lock()
		ch := c.changed
		c.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-c.done:
			return fmt.Errorf("waiting for %s: connection closed", what)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// locked wraps cond to run under the client's lock.
func (c *Client) locked(cond func() bool) func() bool {
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return cond()
	}
}

// Join enters a room and waits for joined.
func (c *Client) Join(ctx context.Context, room, role string) error {
	if err := c.send(signal.Message{Type: signal.TypeJoin, Room: room, Role: role}); err != nil {
		return err
	}
	return c.Wait(ctx, "joined", c.locked(func() bool { return c.joined != nil || len(c.errs) > 0 }))
}

// Errors returns the error messages received so far.
func (c *Client) Errors() []signal.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]signal.Message(nil), c.errs...)
}

// WaitError waits for an error message with code.
func (c *Client) WaitError(ctx context.Context, code string) error {
	return c.Wait(ctx, "error "+code, c.locked(func() bool {
		for _, e := range c.errs {
			if e.Code == code {
				return true
			}
		}
		return false
	}))
}

// LastState returns the last state message, if any.
func (c *Client) LastState() (signal.Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.states) == 0 {
		return signal.Message{}, false
	}
	return c.states[len(c.states)-1], true
}

// Stats returns a copy of what arrived of kind.
func (c *Client) Stats(kind webrtc.RTPCodecType) Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := *c.stats[kind]
	s.FirstIsKeyframe = append([]bool(nil), s.FirstIsKeyframe...)
	return s
}

// WaitMedia waits until at least audio and video packets have arrived.
func (c *Client) WaitMedia(ctx context.Context, audio, video int) error {
	return c.Wait(ctx, fmt.Sprintf("%d audio and %d video packets", audio, video), c.locked(func() bool {
		return c.stats[webrtc.RTPCodecTypeAudio].Packets >= audio && c.stats[webrtc.RTPCodecTypeVideo].Packets >= video
	}))
}

// SubscribeConnections is how many subscribe connections meetd has offered.
func (c *Client) SubscribeConnections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs
}

func (c *Client) readLoop() {
	defer close(c.done)
	defer func() {
		c.mu.Lock()
		c.changedLocked()
		c.mu.Unlock()
	}()
	for {
		_, data, err := c.ws.Read(c.ctx)
		if err != nil {
			return
		}
		var m signal.Message
		if err := json.Unmarshal(data, &m); err != nil {
			continue
		}
		if err := c.handle(m); err != nil && !errors.Is(err, context.Canceled) {
			c.mu.Lock()
			c.errs = append(c.errs, signal.Message{Type: signal.TypeError, Code: "client", Message: err.Error()})
			c.changedLocked()
			c.mu.Unlock()
		}
	}
}

func (c *Client) handle(m signal.Message) error {
	switch m.Type {
	case signal.TypeJoined:
		c.mu.Lock()
		c.joined = &m
		c.changedLocked()
		c.mu.Unlock()
	case signal.TypeState:
		c.mu.Lock()
		c.states = append(c.states, m)
		c.changedLocked()
		c.mu.Unlock()
		c.closeSubscribeOnEnd(m)
	case signal.TypeError:
		c.mu.Lock()
		c.errs = append(c.errs, m)
		c.changedLocked()
		c.mu.Unlock()
	case signal.TypeAnswer:
		return c.handleAnswer(m.SDP)
	case signal.TypeOffer:
		return c.handleOffer(m.SDP)
	case signal.TypeCandidate:
		return c.handleCandidate(m)
	}
	return nil
}

func (c *Client) handleCandidate(m signal.Message) error {
	if m.Candidate == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Target == signal.TargetPublish {
		if c.pub == nil {
			return nil
		}
		if !c.answered {
			c.pendPub = append(c.pendPub, m.Candidate.Init())
			return nil
		}
		return c.pub.AddICECandidate(m.Candidate.Init())
	}
	if c.sub == nil {
		return nil
	}
	return c.sub.AddICECandidate(m.Candidate.Init())
}

func (c *Client) candidateHandler(target string) func(*webrtc.ICECandidate) {
	return func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		init := cand.ToJSON()
		m := signal.Message{Type: signal.TypeCandidate, Candidate: signal.NewCandidate(init), Target: target}
		if c.opts.Plain {
			m.Target = ""
		}
		_ = c.send(m)
	}
}
