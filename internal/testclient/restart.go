package testclient

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
)

var errNotPublishing = errors.New("not publishing")

// disconnectedWait is how long the publish connection may stay
// disconnected before a client with RestartICE restarts it.
const disconnectedWait = 2 * time.Second

// RestartPublish restarts ICE on the publish connection: an offer with new
// ICE credentials, which meetd answers on the same connection.
func (c *Client) RestartPublish(ctx context.Context) error {
	c.mu.Lock()
	pc := c.pub
	c.mu.Unlock()
	if pc == nil {
		return errNotPublishing
	}
	if err := c.negotiateWith(ctx, &webrtc.OfferOptions{ICERestart: true}); err != nil {
		return err
	}
	c.mu.Lock()
	c.pubRestarts++
	c.changedLocked()
	c.mu.Unlock()
	return nil
}

// RequestRestart asks meetd to restart ICE on the subscribe connection.
func (c *Client) RequestRestart() error {
	return c.send(signal.Message{Type: signal.TypeRestart, Target: signal.TargetSubscribe})
}

// ICERestarts is how many times ICE was restarted: on the subscribe
// connection by meetd's offers, on the publish connection by this client.
func (c *Client) ICERestarts() (subscribe, publish int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subRestarts, c.pubRestarts
}

// watchPublishICE restarts ICE on pc when it fails, or stays disconnected
// for disconnectedWait. One restart runs at a time; a restart that does
// not connect ends in failed, which starts the next.
func (c *Client) watchPublishICE(pc *webrtc.PeerConnection) {
	restarts := make(chan struct{}, 1)
	kick := func() {
		select {
		case restarts <- struct{}{}:
		default:
		}
	}
	var timer *time.Timer
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		// pion calls this from one goroutine, in order.
		if timer != nil {
			timer.Stop()
			timer = nil
		}
		switch s {
		case webrtc.ICEConnectionStateFailed:
			kick()
		case webrtc.ICEConnectionStateDisconnected:
			timer = time.AfterFunc(disconnectedWait, func() {
				if pc.ICEConnectionState() == webrtc.ICEConnectionStateDisconnected {
					kick()
				}
			})
		}
	})
	go func() {
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-restarts:
			}
			c.mu.Lock()
			current := c.pub == pc
			c.mu.Unlock()
			if !current {
				return
			}
			ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
			_ = c.RestartPublish(ctx)
			cancel()
		}
	}()
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
