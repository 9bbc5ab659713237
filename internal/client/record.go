package client

import (
	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/signal"
)

// Recorder records rooms (internal/record). Start and Stop are called
// from clients' goroutines and must not block on the disk for long.
type Recorder interface {
	// Start records r, started by the member named by ("" for a room the
	// rooms file records); recording a room already recorded is no error.
	// An error says in words why it cannot start.
	Start(r *room.Room, by string) error
	// Stop stops recording r; it is no error if it was not recorded.
	Stop(r *room.Room)
	// Auto says whether the rooms file has the room recorded whenever it
	// is live.
	Auto(kind room.Kind, name string) bool
}

// handleRecord starts or stops recording the client's room: the host's
// right (a broadcast's streamer is its host).
func (c *Client) handleRecord(on bool) {
	if c.room == nil {
		c.fail(signal.Errorf(signal.CodeNotJoined, "Join a room first."))
		return
	}
	name := c.room.Name()
	if c.room.Host() != c.id {
		if c.room.Kind() == room.Meeting {
			c.fail(signal.Errorf(signal.CodeNotHost, "Only the host of %q can start or stop recording.", name))
		} else {
			c.fail(signal.Errorf(signal.CodeNotAllowed, "Only the streamer of %q can start or stop recording.", name))
		}
		return
	}
	rec := c.env.Recorder
	if rec == nil {
		c.fail(signal.Errorf(signal.CodeRecordUnavailable, "Recording is off on this server."))
		return
	}
	if rec.Auto(c.room.Kind(), name) {
		c.fail(signal.Errorf(signal.CodeNotAllowed, "%q is recorded whenever it is live, as the server's rooms file says.", name))
		return
	}
	if !on {
		rec.Stop(c.room)
		return
	}
	if err := rec.Start(c.room, c.name); err != nil {
		c.fail(signal.Errorf(signal.CodeRecordUnavailable, "Recording cannot start: %v.", err))
	}
}

// autoRecord starts the recording of a live room the rooms file has
// recorded whenever it is live; every member tries, the first one starts it.
func (c *Client) autoRecord(snap room.Snapshot) {
	rec := c.env.Recorder
	if rec == nil || !snap.Live || snap.Recording != nil || !rec.Auto(snap.Kind, snap.Name) {
		return
	}
	if err := rec.Start(c.room, ""); err != nil {
		c.log.Warn("recording of a live room did not start", "err", err)
	}
}

// sendRecording tells the client when a recording of its room starts or
// stops; a late joiner hears of one in progress right after joined.
func (c *Client) sendRecording(snap room.Snapshot) {
	if rec := snap.Recording; rec != nil {
		if c.lastRecording == rec.ID {
			return
		}
		c.lastRecording = rec.ID
		on := true
		c.conn.Send(signal.Message{Type: signal.TypeRecording, On: &on, ID: rec.ID, Since: rec.Since.UnixMilli(), By: rec.By})
		return
	}
	if c.lastRecording == "" {
		return
	}
	off := false
	m := signal.Message{Type: signal.TypeRecording, On: &off, ID: c.lastRecording, Reason: signal.RecordingStopped,
		Message: "The recording stopped."}
	if end := snap.RecordingEnd; end != nil && end.ID == c.lastRecording {
		m.Reason, m.Message = end.Reason, end.Message
	}
	c.lastRecording = ""
	c.conn.Send(m)
}
