// Package testclient is a Go client of meetd's /ws protocol built on pion:
// it publishes synthetic audio and video or subscribes and counts what
// arrives. Integration tests and load tools drive a real meetd with it.
package testclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
)

// Options shape a client.
type Options struct {
	// Plain clients behave like the original streamer/viewer pages: no join,
	// candidates without a target.
	Plain bool
	// Name is the display name sent with join.
	Name string
	// AudioLevel is the level (RFC 6464: 0 loudest, 127 silence) put on
	// every audio packet published; 0 means 127.
	AudioLevel uint8

	// Network shapes how the client's peer connections reach meetd; the
	// zero value is loopback only, over UDP.
	Network Network
	// HTTPClient dials the WebSocket (wss:// with a test CA, say).
	HTTPClient *http.Client
	// API, when set, builds the client's peer connections; many clients can
	// share one. By default each client makes its own with pion's default
	// codecs and interceptors.
	API *webrtc.API
	// Simulcast makes Publish send the camera as three simulcast layers
	// (RIDs q, h and f: 320×180, 640×360 and 1280×720), each with VP8
	// picture ids and TL0PICIDX of its own and its RID at SimulcastMarkerAt
	// of every payload.
	Simulcast bool
	// Media, when set, writes what Publish sends in place of the default
	// synthetic audio and video; SimulcastMedia does for Simulcast.
	Media          Media
	SimulcastMedia SimulcastMedia
	// OnTrack, when set, is given every track a subscribe connection
	// receives, on a goroutine of its own, in place of the client's own
	// counting: it reads the track until it ends. Stats then stay empty.
	OnTrack func(*webrtc.TrackRemote)
	// OnSenderReport, when set, is given the sender reports meetd sends
	// for each track a subscribe connection receives, with the track's
	// kind, from a goroutine per track.
	OnSenderReport func(webrtc.RTPCodecType, *rtcp.SenderReport)
	// RestartICE makes the client restart ICE on its publish connection
	// when ICE fails or stays disconnected, as the web app does.
	RestartICE bool
	// KeepScreenRTP makes StopScreen remove the screen share's track and
	// renegotiate as usual, but go on writing the screen's RTP on its SSRC,
	// as a broken or hostile client might. It needs the client's own API
	// (API unset).
	KeepScreenRTP bool
}

// Network is where a client's media may go.
type Network struct {
	// Interfaces to gather candidates on; empty means "lo" only, with its
	// 127.0.0.1 candidate. AllInterfaces takes every interface but lo.
	Interfaces    []string
	AllInterfaces bool
	// TCP gathers ICE-TCP candidates as well (active: the client
	// connects); NoUDP leaves UDP out.
	TCP, NoUDP bool
	// ICEServers from joined are used when set; ICEServerURL picks which
	// URLs of them to keep (nil keeps all).
	ICEServers   bool
	ICEServerURL func(url string) bool `json:"-"`
	// Relay allows only relayed candidates (iceTransportPolicy "relay").
	Relay bool
	// Net, when set, is the network pion listens and dials with in place
	// of the host's.
	Net transport.Net `json:"-"`
}

// Client is one connection to meetd.
type Client struct {
	opts Options
	api  *webrtc.API
	// writers are the client's streams' writers below pion's tracks; nil
	// with a shared API.
	writers *streamWriters
	ws      *websocket.Conn
	ctx     context.Context
	stop    context.CancelFunc

	// mu protects the fields below it.
	mu     sync.Mutex
	pub    *webrtc.PeerConnection
	sub    *webrtc.PeerConnection
	subs   int // subscribe connections made
	errs   []signal.Message
	states []signal.Message
	joined *signal.Message
	stats  map[webrtc.RTPCodecType]*Stats
	// from counts packets by publisher id and stream label ("audio",
	// "video" or "screen").
	from         map[string]map[string]int
	participants []signal.Participant
	chat         []signal.Message
	speakers     []string
	// layers are the active lists of meetd's layers messages, in order.
	layers [][]string
	roles  []string
	// invitations counts the host's invitations to the stage.
	invitations int
	// lists counts the participants messages.
	lists int
	// recordings are meetd's recording messages, in order.
	recordings []signal.Message
	media      *publishedMedia
	changed    chan struct{} // closed and replaced on every change
	pendPub    []webrtc.ICECandidateInit
	answered   bool
	// subRestarts counts meetd's offers that restarted ICE on the
	// subscribe connection; pubRestarts the client's own restarts.
	subRestarts, pubRestarts int

	done chan struct{}
}

// Stats are what one client received of one kind of media.
type Stats struct {
	Packets int
	// FirstIsKeyframe reports whether the first video packet of each
	// subscribe connection belonged to a keyframe.
	FirstIsKeyframe []bool
	// Gaps counts sequence numbers skipped within one track.
	Gaps int
	// SSRC and LastSeq are of the last packet received.
	SSRC    uint32
	LastSeq uint16
}

// newAPI is a client's own API: pion's default codecs and interceptors,
// and w, when not nil, to keep its streams' writers.
func newAPI(n Network, w *streamWriters) (*webrtc.API, error) {
	return NewAPI(n, func(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
		if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
			return err
		}
		if w != nil {
			ir.Add(w)
		}
		return nil
	})
}

// NewAPI builds a pion API for clients on the network n with pion's default
// codecs; interceptors, when not nil, registers the interceptors to use.
func NewAPI(n Network, interceptors func(*webrtc.MediaEngine, *interceptor.Registry) error) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	return NewAPIWith(n, m, interceptors)
}

// NewAPIWith is NewAPI with the codecs registered in m in place of pion's
// defaults.
func NewAPIWith(n Network, m *webrtc.MediaEngine, interceptors func(*webrtc.MediaEngine, *interceptor.Registry) error) (*webrtc.API, error) {
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: AudioLevelURI},
		webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if interceptors != nil {
		if err := interceptors(m, ir); err != nil {
			return nil, err
		}
	}
	s := webrtc.SettingEngine{}
	// Browsers keep checking a candidate pair for tens of seconds; pion gives
	// up on one after 7 checks (about 1.4 s) and never checks it again, so a
	// path that comes back later would stay unused on the client's side.
	s.SetICEMaxBindingRequests(55)
	switch {
	case n.AllInterfaces:
		s.SetInterfaceFilter(func(name string) bool { return name != "lo" })
	case len(n.Interfaces) > 0:
		names := slices.Clone(n.Interfaces)
		s.SetInterfaceFilter(func(name string) bool { return slices.Contains(names, name) })
		s.SetIncludeLoopbackCandidate(slices.Contains(names, "lo"))
	default:
		s.SetIncludeLoopbackCandidate(true)
		s.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	}
	var types []webrtc.NetworkType
	if !n.NoUDP {
		types = append(types, webrtc.NetworkTypeUDP4)
	}
	if n.TCP {
		types = append(types, webrtc.NetworkTypeTCP4)
	}
	s.SetNetworkTypes(types)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if n.Net != nil {
		s.SetNet(n.Net)
	}
	// Notice a lost path about as fast as a browser does.
	s.SetICETimeouts(3*time.Second, 8*time.Second, time.Second)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(s)), nil
}

// Dial connects to meetd's WebSocket at url (ws://host/ws).
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	api := opts.API
	var writers *streamWriters
	if api == nil {
		writers = newStreamWriters()
		var err error
		if api, err = newAPI(opts.Network, writers); err != nil {
			return nil, err
		}
	} else if opts.KeepScreenRTP {
		return nil, errors.New("KeepScreenRTP needs the client's own API")
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, err
	}
	// A browser takes messages of any size; the participants list of a
	// room with thousands is larger than the library's default of 32 KiB.
	ws.SetReadLimit(16 << 20)
	cctx, stop := context.WithCancel(context.Background())
	c := &Client{
		opts: opts, api: api, writers: writers, ws: ws, ctx: cctx, stop: stop,
		stats:   map[webrtc.RTPCodecType]*Stats{webrtc.RTPCodecTypeAudio: {}, webrtc.RTPCodecTypeVideo: {}},
		from:    map[string]map[string]int{},
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
	// An offer handled while the above closed made a new subscribe
	// connection; nothing handles one now.
	c.mu.Lock()
	late := c.sub
	c.mu.Unlock()
	if late != nil && late != sub {
		_ = late.Close()
	}
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

// Join enters a broadcast and waits for joined.
func (c *Client) Join(ctx context.Context, room, role string) error {
	return c.JoinKind(ctx, signal.KindBroadcast, room, role)
}

// JoinKind enters a room of a kind and waits for joined.
func (c *Client) JoinKind(ctx context.Context, kind, room, role string) error {
	return c.JoinWith(ctx, signal.Message{Kind: kind, Room: room, Role: role})
}

// JoinWith sends join with the fields of m (and the client's name unless m
// has one) and waits for joined or an error.
func (c *Client) JoinWith(ctx context.Context, m signal.Message) error {
	c.mu.Lock()
	c.joined = nil
	c.mu.Unlock()
	m.Type = signal.TypeJoin
	if m.Name == "" {
		m.Name = c.opts.Name
	}
	if err := c.send(m); err != nil {
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

// States returns the state messages that arrived, in order.
func (c *Client) States() []signal.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.states)
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

// ID is the client's participant id, once joined.
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.joined == nil {
		return ""
	}
	return c.joined.ID
}

// Participants returns the last participants list.
func (c *Client) Participants() []signal.Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]signal.Participant(nil), c.participants...)
}

// Participant returns the last known entry of the participant id.
func (c *Client) Participant(id string) (signal.Participant, bool) {
	for _, p := range c.Participants() {
		if p.ID == id {
			return p, true
		}
	}
	return signal.Participant{}, false
}

// Chat returns the chat messages received.
func (c *Client) Chat() []signal.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]signal.Message(nil), c.chat...)
}

// Speaker is the last active speaker announced.
func (c *Client) Speaker() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.speakers) == 0 {
		return ""
	}
	return c.speakers[len(c.speakers)-1]
}

// Roles lists the role changes meetd announced.
func (c *Client) Roles() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.roles...)
}

// From is how many packets of a label ("audio", "video", "screen") arrived
// from the participant id.
func (c *Client) From(id, label string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.from[id][label]
}

// WaitFrom waits until at least n packets of label arrived from id.
func (c *Client) WaitFrom(ctx context.Context, id, label string, n int) error {
	return c.Wait(ctx, fmt.Sprintf("%d %s packets from %s", n, label, id), c.locked(func() bool {
		return c.from[id][label] >= n
	}))
}

// SendChat sends a chat message.
func (c *Client) SendChat(text string) error {
	return c.send(signal.Message{Type: signal.TypeChat, Text: text})
}

// SendMedia tells meetd the microphone, camera and screen state.
// SendView tells meetd how the video of stream track is shown.
func (c *Client) SendView(track string, width, height int, quality string) error {
	return c.send(signal.Message{Type: signal.TypeView, Track: track, Width: &width, Height: &height, Quality: quality})
}

func (c *Client) SendMedia(audio, video bool, screen string) error {
	return c.send(signal.Message{Type: signal.TypeMedia, Audio: &audio, Video: &video, Screen: &screen})
}

// Move asks meetd, as host, to move a participant.
func (c *Client) Move(id, role string) error {
	return c.send(signal.Message{Type: signal.TypeRole, ID: id, Role: role})
}

// Lists is how many participants messages meetd sent.
func (c *Client) Lists() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists
}

// Invitations is how many invitations to the stage the host sent.
func (c *Client) Invitations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invitations
}

// TakeStage asks for the stage for the client itself: it accepts the
// host's invitation, or, with none, gives the stage's password or token as
// a join as stage would.
func (c *Client) TakeStage(password, token string) error {
	return c.send(signal.Message{Type: signal.TypeRole, ID: c.ID(), Role: signal.RoleStage, Password: password, Token: token})
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
	case signal.TypeParticipants:
		c.mu.Lock()
		c.participants = m.Participants
		c.lists++
		c.changedLocked()
		c.mu.Unlock()
	case signal.TypeChat:
		c.mu.Lock()
		c.chat = append(c.chat, m)
		c.changedLocked()
		c.mu.Unlock()
	case signal.TypeSpeaker:
		c.mu.Lock()
		c.speakers = append(c.speakers, m.ID)
		c.changedLocked()
		c.mu.Unlock()
	case signal.TypeLayers:
		c.mu.Lock()
		c.layers = append(c.layers, m.Active)
		if c.media != nil && m.Track == CameraStream {
			c.media.setActive(m.Active, m.Paused)
		}
		c.changedLocked()
		c.mu.Unlock()
	case signal.TypeRecording:
		c.mu.Lock()
		c.recordings = append(c.recordings, m)
		c.changedLocked()
		c.mu.Unlock()
	case signal.TypeInvited:
		c.mu.Lock()
		c.invitations++
		c.changedLocked()
		c.mu.Unlock()
	case signal.TypeRole:
		c.mu.Lock()
		c.roles = append(c.roles, m.Role)
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
