package testclient

import (
	"context"
	"slices"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
)

// SendRecord asks meetd to start or stop recording the client's room.
func (c *Client) SendRecord(on bool) error {
	return c.send(signal.Message{Type: signal.TypeRecord, On: &on})
}

// Recordings are the recording messages meetd sent, in order.
func (c *Client) Recordings() []signal.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.recordings)
}

// WaitRecording waits for a recording message saying on, and returns the
// last such.
func (c *Client) WaitRecording(ctx context.Context, on bool) (signal.Message, error) {
	var got signal.Message
	err := c.Wait(ctx, "a recording message", func() bool {
		recs := c.Recordings()
		for i := len(recs) - 1; i >= 0; i-- {
			if m := recs[i]; m.On != nil && *m.On == on {
				got = m
				return true
			}
		}
		return false
	})
	return got, err
}

// Screen is the screen share's track while the client shares a screen,
// nil otherwise: a Media that sends real video writes the screen's too.
func (c *Client) Screen() *webrtc.TrackLocalStaticRTP {
	c.mu.Lock()
	m := c.media
	c.mu.Unlock()
	if m == nil {
		return nil
	}
	return m.screen.Load()
}
