package sfu

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// newTestTrack is a VP8 track with no peer connection: packets are given
// to forward directly.
func newTestTrack() *Track {
	t := &Track{
		id: "video-test", streamID: "test", kind: webrtc.RTPCodecTypeVideo,
		codec:    webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}},
		keyframe: isVP8Keyframe,
		vp8:      true,
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		counters: &Counters{},
		done:     make(chan struct{}),
	}
	t.layers.Store(&[]*layer{{rank: 2, cache: &packetCache{}}})
	t.downs.Store(&[]*DownTrack{})
	return t
}

// forwardFirst gives a packet to the track's first layer.
func forwardFirst(t *Track, raw []byte, pkt *rtp.Packet) {
	t.forward((*t.layers.Load())[0], raw, pkt, &testSeal)
}

// testSeal is the read loop's encryption space for forwardFirst; the
// down tracks of these tests have no Egress, which would use it.
var testSeal sealBuf

// recorder is a webrtc.TrackLocalWriter that keeps what is written.
type recorder struct {
	mu   sync.Mutex
	pkts []rtp.Packet
}

func (r *recorder) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := rtp.Packet{Header: *h, Payload: append([]byte(nil), payload...)}
	r.pkts = append(r.pkts, p)
	return len(payload), nil
}

// Write keeps a marshalled packet, as pion's write path takes it from an
// Egress's queue.
func (r *recorder) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	p.Payload = append([]byte(nil), p.Payload...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pkts = append(r.pkts, p)
	return len(b), nil
}

func (r *recorder) packets() []rtp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rtp.Packet(nil), r.pkts...)
}

// discard is a webrtc.TrackLocalWriter that drops everything.
type discard struct{}

func (discard) WriteRTP(_ *rtp.Header, p []byte) (int, error) { return len(p), nil }
func (discard) Write(b []byte) (int, error)                   { return len(b), nil }

func subscribe(t *Track, ssrc uint32, pt uint8, w webrtc.TrackLocalWriter) *DownTrack {
	d := t.Subscribe()
	d.bound.Store(&binding{w: w})
	d.wire.Store(uint64(makeWire(ssrc, pt)))
	return d
}

// vp8 is a marshalled RTP packet from a publisher, with a header extension
// and a one-byte VP8 payload descriptor.
func vp8(t testing.TB, seq uint16, key bool) []byte {
	t.Helper()
	payload := make([]byte, 1100)
	payload[0] = 0x10 // S: start of partition 0
	if !key {
		payload[1] = 0x01 // P: interframe
	}
	p := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: 0xabcd},
		Payload: payload,
	}
	if err := p.SetExtension(3, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestForwardRewritesForEachSubscriber(t *testing.T) {
	tr := newTestTrack()
	a, b := &recorder{}, &recorder{}
	subscribe(tr, 1111, 100, a)
	subscribe(tr, 2222, 101, b)
	var scratch rtp.Packet
	forwardFirst(tr, vp8(t, 9, false), &scratch) // before any keyframe: held back
	forwardFirst(tr, vp8(t, 10, true), &scratch)
	forwardFirst(tr, vp8(t, 11, false), &scratch)
	for _, c := range []struct {
		rec  *recorder
		ssrc uint32
		pt   uint8
	}{{a, 1111, 100}, {b, 2222, 101}} {
		got := c.rec.packets()
		if len(got) != 2 {
			t.Fatalf("ssrc %d got %d packets, want 2 (from the keyframe on)", c.ssrc, len(got))
		}
		for i, p := range got {
			if p.SSRC != c.ssrc || p.PayloadType != c.pt || p.SequenceNumber != uint16(10+i) {
				t.Errorf("packet %d: ssrc %d pt %d seq %d", i, p.SSRC, p.PayloadType, p.SequenceNumber)
			}
			if p.Extension || len(p.Extensions) != 0 {
				t.Errorf("packet %d kept the publisher's header extensions", i)
			}
		}
	}
}

func TestResendFromCache(t *testing.T) {
	tr := newTestTrack()
	rec := &recorder{}
	d := subscribe(tr, 1111, 100, rec)
	var scratch rtp.Packet
	for seq := uint16(100); seq < 110; seq++ {
		forwardFirst(tr, vp8(t, seq, seq == 100), &scratch)
	}
	// 103 and 105 are lost; 5 is long gone.
	nack := &rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 103, LostPackets: 0b10}, {PacketID: 5}}}
	d.resend(nack, make([]byte, maxPacketSize), new(sealBuf))
	got := rec.packets()[10:]
	if len(got) != 2 || got[0].SequenceNumber != 103 || got[1].SequenceNumber != 105 {
		t.Fatalf("resent %v, want 103 and 105", got)
	}
	if got[0].SSRC != 1111 || got[0].PayloadType != 100 || got[0].Extension || len(got[0].Payload) != 1100 {
		t.Errorf("resent packet not rewritten: %+v", got[0].Header)
	}
	if d.Retransmits() != 2 {
		t.Errorf("retransmits %d, want 2", d.Retransmits())
	}

	// A subscriber asking for everything gets at most maxResends a window.
	all := &rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{100, 101, 102, 103, 104, 105, 106, 107, 108, 109})}
	for range 3 {
		d.resend(all, make([]byte, maxPacketSize), new(sealBuf))
	}
	if got := d.Retransmits(); got > 2+maxResends {
		t.Errorf("%d retransmissions in one window, at most %d allowed", got-2, maxResends)
	}
}

func TestPacketCache(t *testing.T) {
	var c packetCache
	buf := make([]byte, maxPacketSize)
	now := int64(1e12)
	if c.get(7, buf, now) != 0 {
		t.Fatal("empty cache returned a packet")
	}
	c.store(7, []byte{1, 2, 3}, now)
	if n := c.get(7, buf, now); n != 3 || buf[2] != 3 {
		t.Fatalf("get 7: %d %v", n, buf[:n])
	}
	c.store(7+packetCacheSize, []byte{4}, now)
	if c.get(7, buf, now) != 0 {
		t.Error("an overwritten packet was returned")
	}
	if n := c.get(7+packetCacheSize, buf, now); n != 1 || buf[0] != 4 {
		t.Errorf("newer packet: %d", n)
	}
	if c.get(7+packetCacheSize, buf, now+maxResendAge+1) != 0 {
		t.Error("a packet too old to resend was returned")
	}
}

func TestForwardAllocatesNothing(t *testing.T) {
	tr := newTestTrack()
	for i := range 10 {
		subscribe(tr, uint32(i+1), 96, discard{})
	}
	key, inter := vp8(t, 1, true), vp8(t, 2, false)
	var scratch rtp.Packet
	forwardFirst(tr, key, &scratch)
	if n := testing.AllocsPerRun(100, func() { forwardFirst(tr, inter, &scratch) }); n != 0 {
		t.Errorf("forward allocates %.1f times per packet", n)
	}
}

// BenchmarkForward measures meetd's own work to fan one packet out to N
// subscribers, pion's write path excluded: ns/op per packet and per
// subscriber.
func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 10, 100, 200} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			tr := newTestTrack()
			for i := range n {
				subscribe(tr, uint32(i+1), 96, discard{})
			}
			key, inter := vp8(b, 1, true), vp8(b, 2, false)
			var scratch rtp.Packet
			forwardFirst(tr, key, &scratch)
			b.ReportAllocs()
			b.SetBytes(int64(len(inter)))
			for b.Loop() {
				forwardFirst(tr, inter, &scratch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/subscriber")
		})
	}
}
