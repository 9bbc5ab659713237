package client

import (
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
)

// ICE restarts follow the rule of who offers: meetd restarts the subscribe
// connection (an offer with new ICE credentials), the client restarts the
// publish connection (its own such offer, which meetd answers as any other).

// disconnectedWait is how long the subscribe connection may stay
// disconnected before meetd restarts ICE on it. A short loss of packets
// heals by itself; a changed network does not.
const disconnectedWait = 2 * time.Second

// publishFailedWait is how long meetd keeps a publish connection whose ICE
// failed, for the client to restart ICE with a new offer, before it takes
// the publisher off stage.
const publishFailedWait = 10 * time.Second

// subscriberICE follows the ICE state of the subscribe connection s.
func (c *Client) subscriberICE(s *subscriber, st webrtc.ICEConnectionState) {
	if c.sub != s {
		return
	}
	switch st {
	case webrtc.ICEConnectionStateDisconnected:
		if s.lost != nil {
			return
		}
		var t *time.Timer
		t = time.AfterFunc(disconnectedWait, func() {
			c.post(func() {
				if c.sub != s || s.lost != t {
					return
				}
				s.lost = nil
				if s.pc.ICEConnectionState() == webrtc.ICEConnectionStateDisconnected {
					c.restartSubscriber(s, "disconnected")
				}
			})
		})
		s.lost = t
	case webrtc.ICEConnectionStateFailed:
		s.stopLost()
		c.restartSubscriber(s, "failed")
	default:
		s.stopLost()
	}
}

func (s *subscriber) stopLost() {
	if s.lost != nil {
		s.lost.Stop()
		s.lost = nil
	}
}

// restartSubscriber restarts ICE on the subscribe connection s: at once, or
// after the answer to the offer in flight (one negotiation at a time).
func (c *Client) restartSubscriber(s *subscriber, reason string) {
	if s == nil || c.sub != s {
		return
	}
	if s.playback {
		// A WHEP player offered this connection; it restarts by playing anew.
		c.log.Info("playback connection lost", "reason", reason)
		return
	}
	if c.plain {
		// An original viewer makes a new peer connection for every offer,
		// so it gets a new connection rather than new credentials.
		c.log.Info("subscribe connection replaced", "reason", reason)
		c.closeSubscriber()
		c.reconcile()
		return
	}
	c.log.Info("ICE restart", "pc", "subscribe", "reason", reason, "waiting", s.negotiating)
	s.restart = true
	if !s.negotiating {
		c.offer(s)
	}
}

// handleRestart is a client's request to restart the subscribe connection,
// made when the client's side sees it fail or its network changed.
func (c *Client) handleRestart() {
	if c.sub == nil {
		c.log.Debug("restart asked without a subscribe connection")
		return
	}
	c.restartSubscriber(c.sub, "asked by the client")
}

// publisherICE follows the ICE state of the publish connection p. When ICE
// failed, the client has publishFailedWait to restart it.
func (c *Client) publisherICE(p *publisher, st webrtc.ICEConnectionState) {
	if c.pub != p {
		return
	}
	if st != webrtc.ICEConnectionStateFailed {
		if p.failed != nil {
			p.failed.Stop()
			p.failed = nil
		}
		return
	}
	if p.failed != nil {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(publishFailedWait, func() {
		c.post(func() {
			if c.pub != p || p.failed != t {
				return
			}
			p.failed = nil
			switch p.pc.ICEConnectionState() {
			case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
				return
			}
			c.log.Info("publish connection failed and was not restarted")
			c.stopPublishing()
		})
	})
	p.failed = t
}

// countRestart counts an ICE restart of the connection target.
func (c *Client) countRestart(target string) {
	if c.env.Metrics != nil {
		c.env.Metrics.ICERestart(target)
	}
}

// iceUfrag is the first ICE username fragment in a session description.
func iceUfrag(sdp string) string {
	for line := range strings.Lines(sdp) {
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
