package client

import (
	"errors"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
)

// A WHEP player offers the subscribe connection itself, receive-only audio
// and video, and cannot renegotiate. meetd answers with the broadcast's
// first audio and video track; when the streamer's tracks change (the
// streamer went away and came back) it swaps the new ones into the same
// senders. When the broadcast stops, the session ends.

var errBroadcastEnded = errors.New("the broadcast ended")

// A WHEP player on a node of a cluster where the broadcast is live on
// another node waits up to relayWait, looking every relayPoll, for its
// tracks to come over the node link.
const (
	relayWait = 3 * time.Second
	relayPoll = 100 * time.Millisecond
)

// relayPending says whether a stage member on another node publishes a
// kind of media (by what it said it sends) that has not come here yet: a
// player cannot take a kind it was not answered with.
func relayPending(snap room.Snapshot, want map[webrtc.RTPCodecType]*sfu.Track) bool {
	for _, p := range snap.Participants {
		if p.Node == "" || p.Role != room.Stage {
			continue
		}
		if p.Audio && want[webrtc.RTPCodecTypeAudio] == nil || p.Video && want[webrtc.RTPCodecTypeVideo] == nil {
			return true
		}
	}
	return false
}

// playbackTracks picks the first audio and the first video track on stage.
func playbackTracks(want []*sfu.Track) map[webrtc.RTPCodecType]*sfu.Track {
	picked := map[webrtc.RTPCodecType]*sfu.Track{}
	for _, t := range want {
		if _, ok := picked[t.Kind()]; !ok {
			picked[t.Kind()] = t
		}
	}
	return picked
}

func (c *Client) handlePlaybackOffer(offerSDP string) {
	if c.room == nil {
		c.fail(signal.Errorf(signal.CodeNotJoined, "Join a room before watching."))
		return
	}
	if c.sub != nil {
		c.fail(signal.Errorf(signal.CodeWrongState, "This session already plays; start a new one."))
		return
	}
	want := playbackTracks(c.stageTracks())
	if c.relayWaited < relayWait && (len(want) == 0 && !c.room.Synced() || relayPending(c.room.Snapshot(), want)) {
		// Live on another node of the cluster, or the room just opened here
		// and may be: the tracks come over the node link this player's
		// arrival asked for.
		c.relayWaited += relayPoll
		time.AfterFunc(relayPoll, func() { c.post(func() { c.handlePlaybackOffer(offerSDP) }) })
		return
	}
	if len(want) == 0 {
		c.fail(signal.Errorf(signal.CodeWrongState, "The broadcast %q is not live.", c.room.Name()))
		return
	}
	s, err := c.newSubscriber()
	if err != nil {
		c.fail(signal.Errorf(signal.CodeInternal, "Could not create a peer connection: %v.", err))
		return
	}
	s.playback = true
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: rtpCandidatesOnly(offerSDP)}); err != nil {
		c.fail(signal.Errorf(signal.CodeBadSDP, "The offer was refused: %v.", err))
		c.closeSubscriber()
		return
	}
	// Only kinds the player asked to receive get a track: a new transceiver
	// could not be negotiated without an offer from meetd.
	offered := map[webrtc.RTPCodecType]bool{}
	for _, tr := range s.pc.GetTransceivers() {
		offered[tr.Kind()] = true
	}
	for kind, t := range want {
		if offered[kind] {
			c.addDown(s, t)
		}
	}
	c.noteReception()
	if len(s.downs) == 0 {
		c.fail(signal.Errorf(signal.CodeBadSDP, "The offer asks for neither audio nor video."))
		c.closeSubscriber()
		return
	}
	answer, err := c.answer(s.pc)
	if err != nil {
		c.fail(signal.Errorf(signal.CodeBadSDP, "Could not answer the offer: %v.", err))
		c.closeSubscriber()
		return
	}
	for _, cand := range s.pending {
		c.logCandidateError(addRemoteCandidate(s.pc, cand))
	}
	s.pending = nil
	c.conn.Send(signal.Message{Type: signal.TypeAnswer, SDP: answer})
	c.log.Info("playback offer answered", "tracks", len(s.downs))
}

// stageTracks are the tracks on the room's stage.
func (c *Client) stageTracks() []*sfu.Track {
	return c.othersTracks(c.room.Snapshot().Tracks)
}

// addDown subscribes s to t on a new sender.
func (c *Client) addDown(s *subscriber, t *sfu.Track) {
	down := s.newDown(t)
	sender, err := s.pc.AddTrack(down)
	if err != nil {
		s.dropDown(t, down)
		c.log.Warn("add track to subscriber", "track", t.ID(), "err", err)
		return
	}
	s.downs[t] = sfu.NewSender(sender, down)
	if v, ok := c.views[t.StreamID()]; ok && t.Kind() == webrtc.RTPCodecTypeVideo {
		down.SetView(v)
	}
}

// updatePlayback follows the stage's tracks without renegotiating: a
// sender whose track went away takes the new track of its kind.
func (c *Client) updatePlayback(want []*sfu.Track, live bool) {
	s := c.sub
	if s == nil {
		return // not answered yet
	}
	if !live {
		c.log.Info("broadcast ended: playback session ends")
		c.closeSubscriber()
		c.endSession(errBroadcastEnded)
		return
	}
	picked := playbackTracks(want)
	for t, st := range s.downs {
		next, ok := picked[t.Kind()]
		if !ok || next == t {
			continue
		}
		old := st.Down()
		down := s.newDown(next)
		if err := st.Replace(down); err != nil {
			s.dropDown(next, down)
			c.log.Warn("replace playback track", "track", next.ID(), "err", err)
			continue
		}
		s.dropDown(t, old)
		delete(s.downs, t)
		s.downs[next] = st
	}
	c.noteReception()
}
