package sfu

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/meetd/meetd/internal/udpbatch"
)

// testIngress is an Ingress with a path at c for datagrams from r, whose
// RTP of ssrc a layer took, as one whose DTLS and ICE came up would;
// enc encrypts what r sends.
func testIngress(t *testing.T, c *udpbatch.Conn, r *net.UDPConn, ssrc uint32) (*Ingress, *inQueue, *srtp.Context) {
	t.Helper()
	const profile = srtp.ProtectionProfileAeadAes128Gcm
	key, salt := make([]byte, 16), make([]byte, 12)
	_, _ = rand.Read(key)
	_, _ = rand.Read(salt)
	enc, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := srtp.CreateContext(key, salt, profile, srtp.SRTPReplayProtection(64))
	if err != nil {
		t.Fatal(err)
	}
	in := &Ingress{chain: interceptor.NewChain(nil), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	in.streams.Store(&map[uint32]*ingressStream{})
	in.BindRemoteStream(&interceptor.StreamInfo{SSRC: ssrc, MimeType: "video/VP8"}, interceptor.RTPReaderFunc(
		func([]byte, interceptor.Attributes) (int, interceptor.Attributes, error) { return 0, nil, io.EOF }))
	s := &socketIngress{in: in, conns: []*udpbatch.Conn{c}, counters: new(Counters), log: in.log}
	in.socket = s
	q := newInQueue()
	(*in.streams.Load())[ssrc].queue.Store(q)
	s.keys, s.route = dec, route{conn: c, addr: addrPort(r)}
	s.update()
	return in, q, enc
}

// TestRTPReadAtTheSocket: a publisher's SRTP that comes on the shared
// socket of its connection's path is decrypted where the socket is read
// and queued for its layer, not passed on to pion; a replay of it, RTP of
// a stream no layer took, RTP from an address no connection listens to,
// and what is not RTP go to pion; once the connection closes, so does
// its RTP.
func TestRTPReadAtTheSocket(t *testing.T) {
	c := newTestSocket(t)
	rs := receivers(t, 2)
	pub, stranger := rs[0], rs[1]
	in, q, enc := testIngress(t, c, pub, 1111)
	to := c.LocalAddr().(*net.UDPAddr)

	srtpPacket := func(ssrc uint32, seq uint16) []byte {
		t.Helper()
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: ssrc},
			Payload: bytes.Repeat([]byte{byte(seq)}, 100)}
		raw, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, err := enc.EncryptRTP(nil, raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// pion reads what the socket does not take.
	pionReads := make(chan []byte, 10)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := c.ReadFromAddrPort(buf)
			if err != nil {
				close(pionReads)
				return
			}
			pionReads <- append([]byte(nil), buf[:n]...)
		}
	}()
	forPion := func(what string) {
		t.Helper()
		select {
		case <-pionReads:
		case <-time.After(2 * time.Second):
			t.Fatalf("%s did not go to pion", what)
		}
	}
	send := func(from *net.UDPConn, b []byte) {
		t.Helper()
		if _, err := from.WriteTo(b, to); err != nil {
			t.Fatal(err)
		}
	}

	first := srtpPacket(1111, 7)
	send(pub, first)
	s := q.next()
	if got := s.buf[:s.n]; !bytes.Equal(got[rtpHeaderSize:], bytes.Repeat([]byte{7}, 100)) || s.stream.info.SSRC != 1111 {
		t.Fatalf("queued %x of stream %d, want packet 7 of 1111 decrypted", got, s.stream.info.SSRC)
	}
	q.done()
	if n := in.socket.counters.readAtSocket.Load(); n != 1 {
		t.Errorf("%d packets counted as read at the socket, want 1", n)
	}
	// A layer whose goroutine falls behind: what its queue cannot hold
	// goes to pion, and is counted.
	for i := range inQueueLen {
		send(pub, srtpPacket(1111, uint16(100+i)))
	}
	waitFor(t, "the queue full", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.tail-q.head == inQueueLen
	})
	send(pub, srtpPacket(1111, 100+inQueueLen))
	forPion("a packet beyond the full queue")
	if n := in.socket.counters.Snapshot().ReadQueueFull; n != 1 {
		t.Errorf("%d packets counted as beyond a full queue, want 1", n)
	}
	for range inQueueLen {
		q.next()
		q.done()
	}

	send(pub, first)
	forPion("a replay")
	send(pub, srtpPacket(2222, 1))
	forPion("another stream's RTP")
	send(stranger, srtpPacket(1111, 8))
	forPion("RTP from another address")
	send(pub, []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	forPion("STUN")
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	send(pub, srtpPacket(1111, 9))
	forPion("RTP after the connection closed")
	if p := in.socket.counters.Snapshot().ReadPaths; p != [numReadPaths]int64{-1, 0} {
		// The test's Ingress was never counted as pion's to begin with.
		t.Errorf("read paths %v after close", p)
	}
}

// TestInQueue: the queue hands the reader's packets to the layer's
// goroutine in order, refuses more than inQueueLen waiting (they go to
// pion), and ends once closed and empty.
func TestInQueue(t *testing.T) {
	q := newInQueue()
	for i := range inQueueLen {
		s := q.reserve()
		if s == nil {
			t.Fatalf("packet %d refused", i)
		}
		s.n = i
		q.commit(s)
	}
	if q.reserve() != nil {
		t.Fatal("a full queue took one more")
	}
	for i := range inQueueLen / 2 {
		if s := q.next(); s.n != i {
			t.Fatalf("got packet %d, want %d", s.n, i)
		}
		q.done()
	}
	got := make(chan int)
	go func() {
		for s := q.next(); s != nil; s = q.next() {
			got <- s.n
			q.done()
		}
		close(got)
	}()
	for i := inQueueLen / 2; i < inQueueLen; i++ {
		if n := <-got; n != i {
			t.Fatalf("got packet %d, want %d", n, i)
		}
	}
	s := q.reserve()
	s.n = 1000
	q.commit(s)
	if n := <-got; n != 1000 {
		t.Fatalf("got packet %d, want 1000", n)
	}
	q.close()
	if _, ok := <-got; ok {
		t.Fatal("next returned a packet after close")
	}
	if q.reserve() != nil {
		t.Fatal("a closed queue took a packet")
	}
	if len(q.free) != inQueueLen {
		t.Errorf("%d slots made, want %d", len(q.free), inQueueLen)
	}
}

// TestUnwrapRTX: an RTX packet becomes the packet it repairs, as pion
// makes it: the original sequence number from the payload, the layer's
// SSRC and payload type, marker, timestamp, header extensions and padding
// kept; one without an original sequence number is nothing.
func TestUnwrapRTX(t *testing.T) {
	orig := rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 96, SequenceNumber: 500,
		Timestamp: 90000, SSRC: 1111}, Payload: []byte("payload")}
	if err := orig.SetExtension(1, []byte{0xaa, 0xbb}); err != nil {
		t.Fatal(err)
	}
	rtx := orig
	rtx.Header.PayloadType, rtx.Header.SequenceNumber, rtx.Header.SSRC = 97, 7, 2222
	rtx.Payload = append([]byte{0x01, 0xf4}, orig.Payload...) // OSN 500
	raw, err := rtx.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := unwrapRTX(raw, 1111, 96)
	var got rtp.Packet
	if err := got.Unmarshal(out); err != nil {
		t.Fatal(err)
	}
	want, _ := orig.Marshal()
	if !bytes.Equal(out, want) {
		t.Errorf("unwrapped %+v, want %+v", got, orig)
	}

	padded := rtx
	padded.Header.Padding, padded.PaddingSize = true, 4
	raw, _ = padded.Marshal()
	if err := got.Unmarshal(unwrapRTX(raw, 1111, 96)); err != nil || got.SequenceNumber != 500 ||
		!bytes.Equal(got.Payload, orig.Payload) || got.PaddingSize != 4 {
		t.Errorf("padded: %+v (%v), want the original with its padding", got, err)
	}

	probe := rtx
	probe.Payload, probe.Header.Padding, probe.PaddingSize = nil, true, 200
	raw, _ = probe.Marshal()
	if b := unwrapRTX(raw, 1111, 96); b != nil {
		t.Errorf("padding only: %x, want nothing", b)
	}
}

// FuzzUnwrapRTX: whatever a publisher sends on its RTX stream, unwrapping
// it neither panics nor grows it.
func FuzzUnwrapRTX(f *testing.F) {
	f.Add([]byte{0x80, 97, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 1, 0xf4, 1})
	f.Add([]byte{0x90, 97, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0})
	f.Add([]byte{0xa0, 97, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 1, 0xf4, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		in := append([]byte(nil), b...)
		out := unwrapRTX(in, 1111, 96)
		if out == nil {
			return
		}
		if len(out) != len(b)-2 || binary.BigEndian.Uint32(out[8:12]) != 1111 || out[1]&0x7f != 96 {
			t.Fatalf("unwrapped %x into %x", b, out)
		}
	})
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
