package testclient

import (
	"errors"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// streamWriters is an interceptor that keeps, by SSRC, the writer below
// pion's track of each stream a client sends: what a stopped RTPSender
// leaves working. With it a test client sends RTP its tracks no longer
// would, as a broken or hostile client can: a screen share's after the
// track was removed and renegotiated away, or a simulcast layer's on an
// SSRC of its own.
type streamWriters struct {
	interceptor.NoOp
	// mu protects streams.
	mu      sync.Mutex
	streams map[uint32]rawStream
}

// rawStream is where one local stream's packets go, and their payload type.
type rawStream struct {
	w  interceptor.RTPWriter
	pt uint8
}

var errNoRawWriter = errors.New("no writer for that SSRC: the client's API was not its own")

func newStreamWriters() *streamWriters {
	return &streamWriters{streams: map[uint32]rawStream{}}
}

// NewInterceptor implements interceptor.Factory: every peer connection of
// the client shares the one map.
func (s *streamWriters) NewInterceptor(string) (interceptor.Interceptor, error) { return s, nil }

// BindLocalStream keeps the writer; unbinding the stream does not forget it.
func (s *streamWriters) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s.mu.Lock()
	s.streams[info.SSRC] = rawStream{w: w, pt: info.PayloadType}
	s.mu.Unlock()
	return w
}

// write sends h and payload on the stream that had ssrc, with its payload
// type; h.SSRC, when zero, becomes ssrc.
func (s *streamWriters) write(ssrc uint32, h rtp.Header, payload []byte) error {
	if s == nil {
		return errNoRawWriter
	}
	s.mu.Lock()
	st, ok := s.streams[ssrc]
	s.mu.Unlock()
	if !ok {
		return errNoRawWriter
	}
	if h.SSRC == 0 {
		h.SSRC = ssrc
	}
	h.PayloadType = st.pt
	_, err := st.w.Write(&h, payload, nil)
	return err
}

// has reports whether a writer for ssrc is kept.
func (s *streamWriters) has(ssrc uint32) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.streams[ssrc]
	return ok
}
