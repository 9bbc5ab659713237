package testclient

import (
	"context"
	"slices"

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
