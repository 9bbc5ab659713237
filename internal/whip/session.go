package whip

import (
	"sync"

	"github.com/meetd/meetd/internal/signal"
)

// session is one WHIP publisher or WHEP player: the client.Conn of its
// participant. HTTP requests become the participant's messages; of what
// the participant says back, only joined (for the ICE servers), answer and
// error matter to HTTP.
type session struct {
	id     string
	room   string
	kind   string // "whip" or "whep"
	bearer string // what the POST authenticated with; PATCH and DELETE repeat it
	ufrag  string // the offer's ICE username fragment

	in      chan signal.Incoming
	replies chan signal.Message
	// done is closed once the session ends.
	done chan struct{}

	// mu protects closed and sends on in.
	mu     sync.Mutex
	closed bool
}

func newSession(id, room, kind, bearer string) *session {
	return &session{
		id: id, room: room, kind: kind, bearer: bearer,
		in:      make(chan signal.Incoming, 64),
		replies: make(chan signal.Message, 8),
		done:    make(chan struct{}),
	}
}

// Incoming implements client.Conn.
func (s *session) Incoming() <-chan signal.Incoming { return s.in }

// Send implements client.Conn.
func (s *session) Send(m signal.Message) {
	switch m.Type {
	case signal.TypeJoined, signal.TypeAnswer, signal.TypeError:
		select {
		case s.replies <- m:
		default: // nobody waits for replies after the POST
		}
	}
}

// SendError implements client.Conn.
func (s *session) SendError(err error) { s.Send(signal.ErrorMessage(err)) }

// Close implements client.Conn: the participant ends the session.
func (s *session) Close(error) { s.end() }

// push hands the participant a message; false when the session has ended
// or is flooded.
func (s *session) push(m signal.Message) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.in <- signal.Incoming{Msg: m}:
		return true
	default:
		return false
	}
}

// ended is whether the session ended.
func (s *session) ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// end ends the session: the participant leaves its room and closes its
// peer connection.
func (s *session) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.in)
		close(s.done)
	}
}
