package testclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// HTTPSession is a WHIP publisher or a WHEP player: one peer connection
// negotiated with one HTTP request.
type HTTPSession struct {
	// Location is the session's URL, from the 201 answer.
	Location string
	// Links are the answer's Link headers.
	Links []string

	pc     *webrtc.PeerConnection
	token  string
	client *http.Client
	ctx    context.Context
	stop   context.CancelFunc
	media  *publishedMedia

	// mu protects packets and trickled.
	mu       sync.Mutex
	packets  map[webrtc.RTPCodecType]int
	trickled []int // PATCH statuses
	wg       sync.WaitGroup
}

// HTTPError is a refused WHIP or WHEP request.
type HTTPError struct {
	Status int
	Body   string
	Header http.Header
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), strings.TrimSpace(e.Body))
}

// HTTPOptions shape a WHIP or WHEP session.
type HTTPOptions struct {
	// Token is sent as the bearer token.
	Token string
	// Trickle sends the offer before gathering and each candidate by
	// PATCH; otherwise the offer carries every candidate.
	Trickle bool
	// Client makes the requests; nil is http.DefaultClient.
	Client *http.Client
}

// PublishWHIP publishes synthetic audio and video to endpoint
// (http://host/whip/NAME) until Close.
func PublishWHIP(ctx context.Context, endpoint string, opts HTTPOptions) (*HTTPSession, error) {
	s, err := newHTTPSession(opts)
	if err != nil {
		return nil, err
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", CameraStream)
	if err != nil {
		return nil, err
	}
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", CameraStream)
	if err != nil {
		return nil, err
	}
	send := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}
	if _, err := s.pc.AddTransceiverFromTrack(audio, send); err != nil {
		return nil, err
	}
	vt, err := s.pc.AddTransceiverFromTrack(video, send)
	if err != nil {
		return nil, err
	}
	if err := s.negotiate(ctx, endpoint, opts); err != nil {
		s.Close()
		return nil, err
	}
	s.media = &publishedMedia{audioLevel: 127}
	s.media.wg.Add(2)
	go s.media.readRTCP(vt.Sender())
	go func() {
		defer s.media.wg.Done()
		s.media.send(s.ctx, audio, video, func() bool { return s.media.keyframe.Swap(false) })
	}()
	return s, nil
}

// PlayWHEP plays endpoint (http://host/whep/NAME), counting what arrives.
func PlayWHEP(ctx context.Context, endpoint string, opts HTTPOptions) (*HTTPSession, error) {
	s, err := newHTTPSession(opts)
	if err != nil {
		return nil, err
	}
	recv := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := s.pc.AddTransceiverFromKind(kind, recv); err != nil {
			return nil, err
		}
	}
	s.pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := t.ReadRTP(); err != nil {
				return
			}
			s.mu.Lock()
			s.packets[t.Kind()]++
			s.mu.Unlock()
		}
	})
	if err := s.negotiate(ctx, endpoint, opts); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func newHTTPSession(opts HTTPOptions) (*HTTPSession, error) {
	api, err := newAPI(Network{}, nil)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &HTTPSession{pc: pc, token: opts.Token, client: opts.Client, ctx: ctx, stop: stop,
		packets: map[webrtc.RTPCodecType]int{}}
	if s.client == nil {
		s.client = http.DefaultClient
	}
	return s, nil
}

func (s *HTTPSession) negotiate(ctx context.Context, endpoint string, opts HTTPOptions) error {
	offer, err := s.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(s.pc)
	var early []*webrtc.ICECandidate
	ready := make(chan struct{})
	var mu sync.Mutex
	if opts.Trickle {
		// Candidates found before the answer names the session wait for it.
		s.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c == nil {
				return
			}
			mu.Lock()
			select {
			case <-ready:
				mu.Unlock()
				s.trickle(c)
			default:
				early = append(early, c)
				mu.Unlock()
			}
		})
	}
	if err := s.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	sdp := offer.SDP
	if !opts.Trickle {
		select {
		case <-gathered:
		case <-ctx.Done():
			return ctx.Err()
		}
		sdp = s.pc.LocalDescription().SDP
	}
	res, body, err := s.do(ctx, http.MethodPost, endpoint, "application/sdp", sdp)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusCreated {
		return &HTTPError{Status: res.StatusCode, Body: body, Header: res.Header}
	}
	loc, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	rel, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		return err
	}
	s.Location = loc.ResolveReference(rel).String()
	s.Links = res.Header.Values("Link")
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		return err
	}
	mu.Lock()
	close(ready)
	pending := early
	mu.Unlock()
	for _, c := range pending {
		s.trickle(c)
	}
	return nil
}

// trickle PATCHes one candidate.
func (s *HTTPSession) trickle(c *webrtc.ICECandidate) {
	init := c.ToJSON()
	frag := "a=ice-ufrag:" + s.ufrag() + "\r\na=ice-pwd:" + s.pwd() + "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:" +
		*init.SDPMid + "\r\na=" + init.Candidate + "\r\n"
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		status, _, err := s.Patch(s.ctx, "application/trickle-ice-sdpfrag", frag)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.trickled = append(s.trickled, status)
		s.mu.Unlock()
	}()
}

func (s *HTTPSession) ufrag() string { return s.localAttr("a=ice-ufrag:") }
func (s *HTTPSession) pwd() string   { return s.localAttr("a=ice-pwd:") }

func (s *HTTPSession) localAttr(prefix string) string {
	for l := range strings.SplitSeq(s.pc.LocalDescription().SDP, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
			return v
		}
	}
	return ""
}

func (s *HTTPSession) do(ctx context.Context, method, u, contentType, body string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	hc := s.client
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// Patch sends a PATCH to the session's URL; it returns the status and body.
func (s *HTTPSession) Patch(ctx context.Context, contentType, body string) (int, string, error) {
	res, b, err := s.do(ctx, http.MethodPatch, s.Location, contentType, body)
	if err != nil {
		return 0, "", err
	}
	return res.StatusCode, b, nil
}

// Delete ends the session; it returns the status.
func (s *HTTPSession) Delete(ctx context.Context) (int, error) {
	res, _, err := s.do(ctx, http.MethodDelete, s.Location, "", "")
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// Trickled are the statuses of the PATCHes that carried candidates.
func (s *HTTPSession) Trickled() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.trickled...)
}

// Packets is how many packets of kind a player received.
func (s *HTTPSession) Packets(kind webrtc.RTPCodecType) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets[kind]
}

// RequestKeyframe sends a keyframe request (PLI) for the video it plays,
// as a player does after losing packets.
func (s *HTTPSession) RequestKeyframe() error {
	for _, r := range s.pc.GetReceivers() {
		if t := r.Track(); t != nil && t.Kind() == webrtc.RTPCodecTypeVideo && t.SSRC() != 0 {
			return s.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.SSRC())}})
		}
	}
	return errNoVideo
}

var errNoVideo = errors.New("no video received yet")

// State is the peer connection's state.
func (s *HTTPSession) State() webrtc.PeerConnectionState { return s.pc.ConnectionState() }

// Close stops sending and closes the peer connection, without DELETE.
func (s *HTTPSession) Close() {
	s.stop()
	_ = s.pc.Close()
	if s.media != nil {
		s.media.wait()
	}
	s.wg.Wait()
}
