package client

import (
	"slices"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/bwe"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
)

// subscriber is a client's subscribe connection: meetd offers the room's
// tracks, the client answers.
type subscriber struct {
	pc    *webrtc.PeerConnection
	downs map[*sfu.Track]*sfu.Sender
	// est estimates the connection's bandwidth for all of its down tracks.
	est *bwe.Estimator
	// reports sends the down tracks' sender reports.
	reports *sfu.Reporter
	// egress sends the down tracks' packets, by meetd's fast egress or
	// pion's write path (-fast-egress).
	egress *sfu.Egress
	// negotiating is set from sending an offer until its answer.
	negotiating bool
	// again is set when the tracks changed during a negotiation.
	again   bool
	pending []webrtc.ICECandidateInit
	// playback is set for a WHEP player's connection, which the player
	// offered (see playback.go).
	playback bool
	// restart makes the next offer restart ICE.
	restart bool
	// lost runs while ICE is disconnected, until meetd restarts it.
	lost *time.Timer
}

// newDown makes a down track of t for s, estimated, sent and reported
// on with the connection's others.
func (s *subscriber) newDown(t *sfu.Track) *sfu.DownTrack {
	d := t.Subscribe()
	d.SetEstimator(s.est)
	d.SetEgress(s.egress)
	s.reports.Add(d)
	return d
}

// dropDown stops d, a down track of t.
func (s *subscriber) dropDown(t *sfu.Track, d *sfu.DownTrack) {
	t.Unsubscribe(d)
	s.est.Remove(d)
	s.reports.Remove(d)
}

// updateSubscriber makes the subscribe connection carry want. The
// connection closes when the room stops being live (the client is told by
// state) and for plain clients; otherwise it stays, renegotiated to carry
// nothing, so the client never has to guess that it went away.
func (c *Client) updateSubscriber(want []*sfu.Track, live bool) {
	if c.mode == WHEP {
		c.updatePlayback(want, live)
		return
	}
	if c.mode == WHIP {
		return
	}
	if len(want) == 0 && (c.plain || !live || c.sub == nil) {
		c.closeSubscriber()
		return
	}
	s := c.sub
	if s != nil && s.carries(want) {
		return
	}
	if s != nil && c.plain {
		// An original viewer makes a new peer connection for every offer.
		c.closeSubscriber()
		s = nil
	}
	if s == nil {
		var err error
		if s, err = c.newSubscriber(); err != nil {
			c.fail(signal.Errorf(signal.CodeInternal, "Could not create a peer connection: %v.", err))
			return
		}
	}
	if s.negotiating {
		s.again = true
		return
	}
	for t, st := range s.downs {
		if !slices.Contains(want, t) {
			s.dropDown(t, st.Down())
			if err := s.pc.RemoveTrack(st.RTPSender()); err != nil {
				c.log.Debug("remove track", "err", err)
			}
			delete(s.downs, t)
		}
	}
	for _, t := range want {
		if _, ok := s.downs[t]; !ok {
			c.addDown(s, t)
		}
	}
	c.noteReception()
	c.offer(s)
}

func (s *subscriber) carries(want []*sfu.Track) bool {
	if len(want) != len(s.downs) {
		return false
	}
	for _, t := range want {
		if _, ok := s.downs[t]; !ok {
			return false
		}
	}
	return true
}

func (c *Client) offer(s *subscriber) {
	restart := s.restart
	offer, err := s.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err == nil {
		err = s.pc.SetLocalDescription(offer)
	}
	if err != nil {
		c.log.Error("subscribe offer", "err", err)
		c.fail(signal.Errorf(signal.CodeInternal, "Could not make an offer: %v.", err))
		c.closeSubscriber()
		return
	}
	s.negotiating = true
	s.restart = false
	if restart {
		c.countRestart(signal.TargetSubscribe)
	}
	// Candidates are posted to this goroutine, so they follow this offer.
	c.conn.Send(signal.Message{Type: signal.TypeOffer, SDP: offer.SDP})
	c.log.Info("subscribe offer sent", "tracks", len(s.downs), "ice_restart", restart)
}

func (c *Client) handleAnswer(answerSDP string) {
	s := c.sub
	if s == nil || !s.negotiating {
		if c.unanswered > 0 {
			// The answer to an offer of a connection meetd has closed since.
			c.unanswered--
			c.log.Debug("answer for a closed subscribe connection ignored")
			return
		}
		c.fail(signal.Errorf(signal.CodeWrongState, "There is no offer waiting for an answer."))
		return
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: rtpCandidatesOnly(answerSDP)}); err != nil {
		c.fail(signal.Errorf(signal.CodeBadSDP, "The answer was refused: %v.", err))
		c.closeSubscriber()
		c.reconcile()
		return
	}
	s.negotiating = false
	for _, cand := range s.pending {
		c.logCandidateError(addRemoteCandidate(s.pc, cand))
	}
	s.pending = nil
	if s.again {
		s.again = false
		c.reconcile()
	}
	if c.sub == s && s.restart && !s.negotiating {
		c.offer(s)
	}
}

func (c *Client) newSubscriber() (*subscriber, error) {
	pc, err := c.env.API.NewSubscribeConnection()
	if err != nil {
		return nil, err
	}
	log := c.log.With("pc", "subscribe")
	egress := c.env.API.NewEgress(pc, log)
	s := &subscriber{pc: pc, downs: map[*sfu.Track]*sfu.Sender{}, est: bwe.NewEstimator(log),
		egress: egress, reports: c.env.API.NewReporter(egress, pc.WriteRTCP)}
	s.est.SetProbes(c.env.API.Probes())
	c.sub = s
	egress.OnStall(func() { c.post(func() { c.stalled(s) }) })
	c.forwardCandidates(pc, signal.TargetSubscribe, func() bool { return c.sub == s })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		log.Info("connection state", "state", st.String())
		notePath(&c.paths.subscribe, pc, st)
		if c.mode == WHEP && (st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed) {
			c.post(func() {
				if c.sub == s {
					c.closeSubscriber()
					c.endSession(errConnectionEnded)
				}
			})
		}
	})
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		log.Debug("ICE state", "state", st.String())
		c.post(func() { c.subscriberICE(s, st) })
	})
	return s, nil
}

// errTooSlow tells a client whose media backed up that it was cut off.
var errTooSlow = &signal.Error{Code: signal.CodeTooSlow,
	Message: "your connection took too little of its media for too long, so meetd stopped sending it; reconnect to watch again"}

// stalled closes s, a subscribe connection whose send queue stayed full
// (sfu.QueueLimits), and tells the client.
func (c *Client) stalled(s *subscriber) {
	if c.sub != s {
		return
	}
	c.log.Warn("subscriber too slow: closing its subscribe connection")
	c.fail(errTooSlow)
	c.closeSubscriber()
	c.endSession(errTooSlow)
}

func (c *Client) closeSubscriber() {
	s := c.sub
	if s == nil {
		return
	}
	c.sub = nil
	c.noteReception()
	s.stopLost()
	if s.negotiating {
		c.unanswered++
	}
	for t, st := range s.downs {
		t.Unsubscribe(st.Down())
	}
	s.reports.Close()
	if err := s.pc.Close(); err != nil {
		c.log.Debug("close subscribe connection", "err", err)
	}
}

func (s *subscriber) addCandidate(cand webrtc.ICECandidateInit) error {
	if s.pc.RemoteDescription() == nil {
		return holdCandidate(&s.pending, cand)
	}
	return addRemoteCandidate(s.pc, cand)
}

// maxViews bounds the views a client keeps: more than the streams a room
// can have on stage.
const maxViews = 256

// handleView applies how the client shows a stream's video.
func (c *Client) handleView(stream string, width, height int, quality string) {
	v := sfu.View{Width: width, Height: height, Quality: sfu.QualityAuto}
	switch quality {
	case signal.QualityHigh:
		v.Quality = sfu.QualityHigh
	case signal.QualityMedium:
		v.Quality = sfu.QualityMedium
	case signal.QualityLow:
		v.Quality = sfu.QualityLow
	}
	if c.views == nil {
		c.views = map[string]sfu.View{}
	}
	if _, ok := c.views[stream]; !ok && len(c.views) >= maxViews {
		clear(c.views)
	}
	c.views[stream] = v
	if c.sub == nil {
		return
	}
	for t, st := range c.sub.downs {
		if t.StreamID() == stream && t.Kind() == webrtc.RTPCodecTypeVideo {
			st.Down().SetView(v)
		}
	}
}

// forwardCandidates sends meetd's ICE candidates of pc to a WebSocket
// client, named by target, while current (run on the client's goroutine)
// says pc is still the client's. Candidates are posted to that goroutine,
// so they always follow the description sent before them.
func (c *Client) forwardCandidates(pc *webrtc.PeerConnection, target string, current func() bool) {
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		init := cand.ToJSON()
		c.post(func() {
			if current() && c.mode == WebSocket {
				c.conn.Send(signal.Message{Type: signal.TypeCandidate, Candidate: signal.NewCandidate(init), Target: target})
			}
		})
	})
}
