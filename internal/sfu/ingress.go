package sfu

import (
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Ingress receives the media of one publish connection. pion reads it by
// default: each packet passes the UDP mux's reader, the ICE candidate's
// reader, the peer connection's packet mux, the SRTP session and the
// track's reader, five goroutines and four buffers, before meetd's read
// loop gets it. At a meeting's packet rates (each packet fans out to a
// handful of subscribers) that was the larger part of meetd's work per
// forwarded packet (see docs/performance.md, Meetings).
//
// So once the connection's DTLS is up and ICE picked a path on one of the
// shared UDP sockets, that socket's reader decrypts the connection's RTP
// itself and queues it for the layer's own goroutine, which runs it
// through the connection's interceptors and forwards it (ingress_socket.go).
// pion's path stays: it reads whatever the socket does not take (the
// first packets of a stream, before its track exists; streams on other
// paths; packets that do not decrypt; a queue's overflow), and
// Config.PionReadPath leaves everything to it.
//
// Ingress is also the connection's interceptor, the only one pion's
// publish API has: it builds pion's chain (NACK generator, receiver
// reports, TWCC feedback) and hands each call on to it, so pion's path
// runs exactly as without it; it only keeps the reader pion bound for each
// stream, so that packets read at the socket pass the same interceptors.
type Ingress struct {
	chain interceptor.Interceptor
	log   *slog.Logger

	// mu serialises changes to streams.
	mu sync.Mutex
	// streams are the connection's received streams, by SSRC: a
	// copy-on-write map the socket's reader loads once per packet.
	streams atomic.Pointer[map[uint32]*ingressStream]
	// audio are the audio tracks whose receiver reports carry their
	// subscribers' loss, by SSRC (upstreamloss.go); copy-on-write.
	audio atomic.Pointer[map[uint32]*Track]

	// socket is the path at the shared sockets; nil with
	// Config.PionReadPath or when pion's internals are out of reach.
	socket *socketIngress
	// forget removes the Ingress from its API's, and uncount (when not
	// nil) from the count of connections read through pion, as the
	// connection closes, once.
	forget, uncount func()
	closeOnce       sync.Once
}

// ingressStream is one received stream: a layer of a track, or the
// retransmissions (RTX) of one.
type ingressStream struct {
	info *interceptor.StreamInfo
	// reader is the interceptors' reader pion bound for the stream.
	reader interceptor.RTPReader
	// at is the interceptors' way to the packets read at a socket (see
	// streamSource); used by the goroutine that forwards them only.
	at socketPacket
	// queue is where the socket's reader puts the stream's packets for
	// its layer's goroutine; nil until a layer takes the stream.
	queue atomic.Pointer[inQueue]
	// For the RTX stream of a layer: the layer's SSRC and payload type,
	// which its packets are given back (as pion does).
	rtx       bool
	primary   uint32
	primaryPT uint8
	// remote is the layer's track, for finding its RTX stream.
	remote *webrtc.TrackRemote
}

// socketPacket is a packet read at the socket, handed to the stream's
// interceptors through their attributes.
type socketPacket struct {
	n     int
	attrs interceptor.Attributes
}

// socketPacketKey marks, in the attributes given to an interceptor chain,
// a packet already in the buffer (see streamSource).
type socketPacketKey struct{}

// streamSource is the innermost reader of a stream's interceptors: pion's
// SRTP read stream, or, when the attributes say so, the packet read at the
// socket that is already in the buffer. pion passes no attributes to
// its reads, so its path costs one comparison more.
type streamSource struct{ pion interceptor.RTPReader }

func (s streamSource) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	if a != nil {
		if p, ok := a[socketPacketKey{}].(*socketPacket); ok {
			return p.n, a, nil
		}
	}
	return s.pion.Read(b, a)
}

// intercept runs a packet read at the socket, in b, through the stream's
// interceptors, as pion's read would have; false when they refuse it.
func (s *ingressStream) intercept(b []byte) bool {
	p := &s.at
	if p.attrs == nil {
		p.attrs = interceptor.Attributes{}
	}
	for k := range p.attrs {
		delete(p.attrs, k)
	}
	p.attrs[socketPacketKey{}] = p
	p.n = len(b)
	_, _, err := s.reader.Read(b, p.attrs)
	return err == nil
}

// ingressFactory builds the Ingress of each publish connection as its
// interceptor. pion builds a connection's interceptor inside
// NewPeerConnection; API.NewPublishConnection, holding building, takes it
// from built.
type ingressFactory struct{ a *API }

func (f ingressFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	chain, err := f.a.received.Build(id)
	if err != nil {
		return nil, err
	}
	in := &Ingress{chain: chain, log: f.a.log}
	in.streams.Store(&map[uint32]*ingressStream{})
	in.audio.Store(&map[uint32]*Track{})
	f.a.built = in
	return in, nil
}

// BindRemoteStream implements interceptor.Interceptor.
func (in *Ingress) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	s := &ingressStream{info: info, rtx: strings.EqualFold(info.MimeType, webrtc.MimeTypeRTX)}
	s.reader = in.chain.BindRemoteStream(info, streamSource{pion: reader})
	in.mu.Lock()
	m := maps.Clone(*in.streams.Load())
	m[info.SSRC] = s
	in.streams.Store(&m)
	in.mu.Unlock()
	return s.reader
}

// UnbindRemoteStream implements interceptor.Interceptor.
func (in *Ingress) UnbindRemoteStream(info *interceptor.StreamInfo) {
	in.mu.Lock()
	m := maps.Clone(*in.streams.Load())
	if s := m[info.SSRC]; s != nil && s.info == info {
		delete(m, info.SSRC)
	}
	in.streams.Store(&m)
	in.mu.Unlock()
	in.chain.UnbindRemoteStream(info)
}

// BindRTCPReader implements interceptor.Interceptor.
func (in *Ingress) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return in.chain.BindRTCPReader(r)
}

// BindRTCPWriter implements interceptor.Interceptor.
func (in *Ingress) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return in.chain.BindRTCPWriter(viewersLossWriter{in: in, next: w})
}

// BindLocalStream implements interceptor.Interceptor.
func (in *Ingress) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return in.chain.BindLocalStream(info, w)
}

// UnbindLocalStream implements interceptor.Interceptor.
func (in *Ingress) UnbindLocalStream(info *interceptor.StreamInfo) {
	in.chain.UnbindLocalStream(info)
}

// Close implements interceptor.Interceptor: pion calls it as the
// connection closes.
func (in *Ingress) Close() error {
	in.closeOnce.Do(func() {
		if in.socket != nil {
			in.socket.close()
		}
		if in.uncount != nil {
			in.uncount()
		}
		if in.forget != nil {
			in.forget()
		}
	})
	return in.chain.Close()
}

// take makes the socket's reader queue the packets of the stream of
// remote, a layer of a track, for the layer's goroutine, and returns the
// queue; nil when the connection has no socket path or pion bound no
// such stream. release undoes it.
func (in *Ingress) take(remote *webrtc.TrackRemote) *inQueue {
	if in == nil || in.socket == nil {
		return nil
	}
	ssrc := uint32(remote.SSRC())
	in.mu.Lock()
	defer in.mu.Unlock()
	s := (*in.streams.Load())[ssrc]
	if s == nil || s.rtx || s.queue.Load() != nil {
		return nil
	}
	s.remote = remote
	q := newInQueue()
	s.queue.Store(q)
	return q
}

// release stops queueing the packets of the stream of q (and of its
// retransmissions) and closes q.
func (in *Ingress) release(q *inQueue) {
	in.mu.Lock()
	for _, s := range *in.streams.Load() {
		if s.queue.Load() == q {
			s.queue.Store(nil)
		}
	}
	in.mu.Unlock()
	q.close()
}

// takeRTX makes s, a stream no layer took, queue with the layer it
// carries the retransmissions of, once pion knows which that is (it
// learns a simulcast layer's RTX stream from its first packet). It
// reports whether s now has a queue.
func (in *Ingress) takeRTX(s *ingressStream) bool {
	if !s.rtx {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if s.queue.Load() != nil {
		return true
	}
	for _, p := range *in.streams.Load() {
		q := p.queue.Load()
		if q == nil || p.rtx || p.remote == nil || uint32(p.remote.RtxSSRC()) != s.info.SSRC {
			continue
		}
		s.primary, s.primaryPT = p.info.SSRC, uint8(p.remote.PayloadType())
		s.queue.Store(q)
		return true
	}
	return false
}

// ingressOf is the Ingress of pc, a publish connection of a; nil for any
// other connection.
func (a *API) ingressOf(pc *webrtc.PeerConnection) *Ingress {
	if pc == nil {
		return nil
	}
	in, _ := a.ingresses.Load(pc)
	i, _ := in.(*Ingress)
	return i
}

// startQueue starts forwarding the packets of layer l that are read at
// the shared socket, if its connection has that path, on a goroutine of
// their own. The function it returns stops it, once pion's read of the
// layer ended.
func (t *Track) startQueue(l *layer) (stop func()) {
	q := t.ingress.take(l.remote)
	if q == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.readQueue(l, q)
	}()
	return func() {
		t.ingress.release(q)
		<-done
	}
}

// readQueue forwards the packets of layer l the socket's reader queues in
// q until q closes. Each passes the interceptors pion bound for its
// stream first, as pion's read would have.
func (t *Track) readQueue(l *layer, q *inQueue) {
	var pkt rtp.Packet
	seal := new(sealBuf)
	for {
		s := q.next()
		if s == nil {
			return
		}
		b := s.buf[:s.n]
		st := s.stream
		switch {
		case !st.intercept(b):
			b = nil
		case st.rtx:
			b = unwrapRTX(b, st.primary, st.primaryPT)
		}
		if b != nil {
			l.forwarding.Lock()
			t.forward(l, b, &pkt, seal)
			l.forwarding.Unlock()
		}
		q.done()
	}
}
