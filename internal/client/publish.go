package client

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
)

// publishWait is how long meetd waits for all the tracks a publisher
// announced before it puts on stage the ones that arrived.
const publishWait = 2 * time.Second

// publisher is a client's publish connection: the client offers, meetd
// answers, and every track the client sends goes on the room's stage.
type publisher struct {
	pc *webrtc.PeerConnection
	// expected is how many tracks the client's last offer announced.
	expected int
	tracks   []*sfu.Track
	timer    *time.Timer
	pending  []webrtc.ICECandidateInit
	// ending coalesces track endings into one publish.
	ending *time.Timer
	// failed runs while ICE has failed, until the client restarts it.
	failed *time.Timer

	// simulcast maps the receiver of a simulcast track to the track its
	// first layer made, so that later layers join it. pion calls OnTrack
	// on its own goroutines: simulcastMu guards the map.
	simulcastMu sync.Mutex
	simulcast   map[*webrtc.RTPReceiver]*sfu.Track
}

// endingWait is how long track endings are gathered before the stage changes.
const endingWait = 150 * time.Millisecond

func (p *publisher) republish(c *Client) {
	if p.ending != nil {
		return
	}
	p.ending = time.AfterFunc(endingWait, func() {
		c.post(func() {
			p.ending = nil
			if c.pub == p {
				c.publish()
			}
		})
	})
}

func (c *Client) handleOffer(offerSDP string) {
	if c.room == nil {
		if c.explicit {
			c.fail(signal.Errorf(signal.CodeNotJoined, "Join a room before publishing."))
			return
		}
		// An original streamer: it publishes into the default broadcast.
		c.plain = true
		if !c.joinRoom(room.Broadcast, DefaultRoom, room.Audience, nil) {
			return
		}
	}
	if c.role != room.Stage {
		if !c.plain {
			c.fail(signal.Errorf(signal.CodeNotAllowed, "Only the stage can publish; you joined as audience."))
			return
		}
		if _, err := c.admit(c.room.Kind(), c.room.Name(), room.Stage, "", ""); err != nil {
			c.refuseJoin(err, c.room.Name())
			return
		}
		if err := c.claimStage(c.room.Kind(), c.room.Name(), room.Stage); err != nil {
			c.fail(roomError(err, c.room.Name()))
			return
		}
		if err := c.room.SetRole(c, room.Stage); err != nil {
			c.fail(roomError(err, c.room.Name()))
			return
		}
		c.role = room.Stage
		c.closeSubscriber()
	}
	sent, err := countSentTracks(offerSDP)
	if err != nil {
		c.fail(signal.Errorf(signal.CodeBadSDP, "The offer could not be parsed: %v.", err))
		return
	}
	if err := sent.check(); err != nil {
		c.log.Info("offer refused", "audio", sent.audio, "video", sent.video, "layers", sent.layers)
		c.fail(err)
		return
	}
	expected := sent.total()
	if c.pub == nil {
		if err := c.newPublisher(); err != nil {
			c.fail(signal.Errorf(signal.CodeInternal, "Could not create a peer connection: %v.", err))
			return
		}
	}
	p := c.pub
	if prev := p.pc.RemoteDescription(); prev != nil && iceUfrag(prev.SDP) != iceUfrag(offerSDP) {
		c.log.Info("ICE restart", "pc", "publish", "reason", "asked by the client")
		c.countRestart(signal.TargetPublish)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: rtpCandidatesOnly(offerSDP)}); err != nil {
		c.fail(signal.Errorf(signal.CodeBadSDP, "The offer was refused: %v.", err))
		c.stopPublishing()
		return
	}
	answer, err := c.answer(p.pc)
	if err != nil {
		c.fail(signal.Errorf(signal.CodeBadSDP, "Could not answer the offer: %v.", err))
		c.stopPublishing()
		return
	}
	// Candidates gathered from here on are posted to this goroutine, so they
	// are sent after this answer.
	c.conn.Send(signal.Message{Type: signal.TypeAnswer, SDP: answer})
	for _, cand := range append(c.early, p.pending...) {
		c.logCandidateError(p.addCandidate(cand))
	}
	c.early, p.pending = nil, nil

	p.expected = expected
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timer = time.AfterFunc(publishWait, func() {
		c.post(func() {
			if c.pub == p {
				c.publish()
			}
		})
	})
	c.log.Info("publish offer answered", "tracks", expected)
}

func (c *Client) newPublisher() error {
	pc, err := c.env.API.NewPublishConnection()
	if err != nil {
		return err
	}
	p := &publisher{pc: pc, simulcast: map[*webrtc.RTPReceiver]*sfu.Track{}}
	c.pub = p
	log := c.log.With("pc", "publish")
	streamPrefix := c.id + "_"
	pc.OnTrack(func(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		var t *sfu.Track
		if remote.RID() != "" {
			p.simulcastMu.Lock()
			first, ok := p.simulcast[receiver]
			if !ok {
				first = c.env.API.NewTrack(pc, remote, receiver, streamPrefix+remote.StreamID(), log)
				if c.mode == WebSocket {
					// WHIP has no way to tell an encoder: its layers all keep coming.
					stream := remote.StreamID()
					first.OnLayers(func(active, paused []string) { c.tellLayers(p, stream, active, paused) })
				}
				p.simulcast[receiver] = first
			}
			p.simulcastMu.Unlock()
			if ok {
				// One more layer of a camera already on stage.
				first.AddLayer(remote, receiver)
				return
			}
			t = first
		} else {
			t = c.env.API.NewTrack(pc, remote, receiver, streamPrefix+remote.StreamID(), log)
		}
		go t.Run()
		c.post(func() {
			if c.pub != p {
				return
			}
			p.tracks = append(p.tracks, t)
			log.Info("track received", "track", t.ID(), "codec", t.Codec().MimeType, "rid", remote.RID(),
				"ssrc", uint32(remote.SSRC()), "red", t.RED())
			if len(p.tracks) >= p.expected {
				c.publish()
			}
		})
		go func() {
			<-t.Done()
			c.post(func() {
				if c.pub != p {
					return
				}
				if i := slices.Index(p.tracks, t); i >= 0 {
					p.tracks = slices.Delete(p.tracks, i, i+1)
					log.Info("track ended", "track", t.ID())
					// A publisher that goes away ends its tracks one by one;
					// wait for the rest before renegotiating everyone.
					p.republish(c)
				}
			})
		}()
	})
	c.forwardCandidates(pc, signal.TargetPublish, func() bool { return c.pub == p })
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		log.Info("connection state", "state", s.String())
		notePath(&c.paths.publish, pc, s)
		// A failed ICE connection waits for the client's ICE restart
		// (publisherICE); a failed DTLS one cannot come back, and a WHIP
		// publisher restarts by publishing anew.
		failed := s == webrtc.PeerConnectionStateFailed &&
			(c.mode == WHIP || pc.ICEConnectionState() != webrtc.ICEConnectionStateFailed)
		if failed || (s == webrtc.PeerConnectionStateClosed && c.mode == WHIP) {
			c.post(func() {
				if c.pub == p {
					c.stopPublishing()
					c.endSession(errConnectionEnded)
				}
			})
		}
	})
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		log.Debug("ICE state", "state", st.String())
		c.post(func() { c.publisherICE(p, st) })
	})
	return nil
}

// tellLayers tells the client which simulcast layers of its camera in
// stream to send, and which to pause.
func (c *Client) tellLayers(p *publisher, stream string, active, paused []string) {
	c.post(func() {
		if c.pub == p {
			c.conn.Send(signal.Message{Type: signal.TypeLayers, Track: stream, Active: active, Paused: paused})
		}
	})
}

// publish puts the publisher's tracks on the room's stage.
func (c *Client) publish() {
	if c.room == nil || c.pub == nil {
		return
	}
	staged := make([]room.Track, len(c.pub.tracks))
	for i, t := range c.pub.tracks {
		staged[i] = t
	}
	if err := c.room.Publish(c, staged); err != nil {
		c.log.Warn("publish refused", "err", err)
		return
	}
	if c.mode == WHIP {
		// A WHIP encoder never says what it sends: its tracks do.
		var audio, video bool
		for _, t := range c.pub.tracks {
			audio = audio || t.Kind() == webrtc.RTPCodecTypeAudio
			video = video || t.Kind() == webrtc.RTPCodecTypeVideo
		}
		if err := c.room.SetMedia(c, audio, video, ""); err != nil {
			c.log.Debug("media of a WHIP publisher", "err", err)
		}
	}
}

// stopPublishing closes the publish connection and takes its tracks off stage.
func (c *Client) stopPublishing() {
	p := c.pub
	if p == nil {
		return
	}
	c.pub = nil
	if p.timer != nil {
		p.timer.Stop()
	}
	if p.ending != nil {
		p.ending.Stop()
	}
	if p.failed != nil {
		p.failed.Stop()
	}
	if c.room != nil {
		if err := c.room.Publish(c, nil); err != nil {
			c.log.Debug("unpublish", "err", err)
		}
	}
	if err := p.pc.Close(); err != nil {
		c.log.Debug("close publish connection", "err", err)
	}
}

func (p *publisher) addCandidate(cand webrtc.ICECandidateInit) error {
	if p.pc.RemoteDescription() == nil {
		return holdCandidate(&p.pending, cand)
	}
	return addRemoteCandidate(p.pc, cand)
}

// gatherWait bounds how long an answer waits for meetd's candidates. meetd
// gathers host candidates only (no STUN), which takes milliseconds.
const gatherWait = 2 * time.Second

var errConnectionEnded = errors.New("the peer connection ended")

// answer answers the remote offer set on pc. For WHIP and WHEP, which have
// no way to trickle meetd's candidates, the answer waits until they are
// gathered and carries them all.
func (c *Client) answer(pc *webrtc.PeerConnection) (string, error) {
	var gathered <-chan struct{}
	if c.mode != WebSocket {
		gathered = webrtc.GatheringCompletePromise(pc)
	}
	sfu.PreferRED(pc)
	answer, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(answer)
	}
	if err != nil || gathered == nil {
		return answer.SDP, err
	}
	select {
	case <-gathered:
	case <-time.After(gatherWait):
		c.log.Warn("answering before every candidate was gathered")
	}
	return pc.LocalDescription().SDP, nil
}

// endSession ends a WHIP or WHEP session, whose peer connection is all
// there is of it; a WebSocket client stays.
func (c *Client) endSession(reason error) {
	if c.mode != WebSocket {
		c.conn.Close(reason)
	}
}

// What one publisher may send: a camera and a screen share, a microphone
// and the screen's sound, which is what the web app publishes (a WHIP
// encoder sends less); a simulcast camera in up to maxSentLayers layers.
// Each track costs the server a reader, and each subscriber a down track.
const (
	maxSentAudio  = 2
	maxSentVideo  = 2
	maxSentLayers = 4
)

// sentTracks counts what an offer sends: its audio and video sections in
// which the client sends media, and the most simulcast layers of one.
type sentTracks struct{ audio, video, layers int }

func (s sentTracks) total() int { return s.audio + s.video }

// check refuses an offer that sends more than a publisher may.
func (s sentTracks) check() error {
	if s.audio > maxSentAudio || s.video > maxSentVideo {
		return signal.Errorf(signal.CodeNotAllowed,
			"An offer may send at most %d video tracks (a camera and a screen) and %d audio tracks (a microphone and the screen's sound); this one sends %d and %d.",
			maxSentVideo, maxSentAudio, s.video, s.audio)
	}
	if s.layers > maxSentLayers {
		return signal.Errorf(signal.CodeNotAllowed, "A simulcast track may have at most %d layers; this one has %d.",
			maxSentLayers, s.layers)
	}
	return nil
}

// countSentTracks counts the audio and video sections of an offer in which
// the client sends media, and their simulcast layers.
func countSentTracks(offer string) (sentTracks, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return sentTracks{}, err
	}
	var n sentTracks
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" && m.MediaName.Media != "video" {
			continue
		}
		if m.MediaName.Port.Value == 0 {
			continue
		}
		_, recvonly := m.Attribute("recvonly")
		_, inactive := m.Attribute("inactive")
		if recvonly || inactive {
			continue
		}
		if m.MediaName.Media == "audio" {
			n.audio++
		} else {
			n.video++
		}
		layers := 0
		for _, a := range m.Attributes {
			if f := strings.Fields(a.Value); a.Key == "rid" && len(f) >= 2 && f[1] == "send" {
				layers++
			}
		}
		n.layers = max(n.layers, layers)
	}
	return n, nil
}
