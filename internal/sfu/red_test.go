package sfu

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// redPayload is a RED payload of one redundant block (the frame before,
// 960 samples earlier) and the primary block, all of payload type pt.
func redPayload(pt uint8, older, primary []byte) []byte {
	p := []byte{0x80 | pt, 0, 0, 0, pt}
	// Timestamp offset 960 (14 bits), then the block's length (10 bits).
	hdr := uint32(960)<<10 | uint32(len(older))
	p[1], p[2], p[3] = byte(hdr>>16), byte(hdr>>8), byte(hdr)
	p = append(p, older...)
	return append(p, primary...)
}

func TestREDPrimary(t *testing.T) {
	for _, c := range []struct {
		name    string
		p       []byte
		off     int
		pt      uint8
		wantErr bool
	}{
		{"primary only", []byte{111, 1, 2}, 1, 111, false},
		{"one redundant block", redPayload(111, []byte{1, 2, 3}, []byte{4, 5}), 8, 111, false},
		{"blocks of two payload types", append([]byte{0x80 | 110, 0, 0, 1, 111, 9}, 7), 6, 0, false},
		{"empty", nil, 0, 0, true},
		{"header cut short", []byte{0x80 | 111, 0, 0}, 0, 0, true},
		{"no last header", []byte{0x80 | 111, 0, 0, 0}, 0, 0, true},
		{"a block longer than the packet", []byte{0x80 | 111, 0, 0, 9, 111, 1}, 0, 0, true},
	} {
		off, pt, ok := redPrimary(c.p)
		if ok == c.wantErr || (ok && (off != c.off || pt != c.pt)) {
			t.Errorf("%s: %d, %d, %v; want %d, %d, %v", c.name, off, pt, ok, c.off, c.pt, !c.wantErr)
		}
	}
}

func FuzzREDPrimary(f *testing.F) {
	f.Add(redPayload(111, []byte{1, 2, 3}, []byte{4, 5}))
	f.Add([]byte{0x80 | 111, 0, 0, 9, 111, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		if off, _, ok := redPrimary(p); ok && (off < 1 || off > len(p)) {
			t.Fatalf("primary at %d of %d bytes", off, len(p))
		}
	})
}

// sinkRecorder is a Sink that keeps what it gets.
type sinkRecorder struct {
	mu   sync.Mutex
	pkts []rtp.Packet
}

func (s *sinkRecorder) WriteRTP(p *rtp.Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *p
	c.Payload = bytes.Clone(p.Payload)
	s.pkts = append(s.pkts, c)
}

// TestREDForwarded: a publisher's RED audio goes as it came to a
// subscriber that negotiated RED, and as plain Opus, its primary frame
// alone, to one that did not and to a recording.
func TestREDForwarded(t *testing.T) {
	tr := newTestTrack()
	tr.kind, tr.id, tr.keyframe, tr.vp8 = webrtc.RTPCodecTypeAudio, "audio-test", nil, false
	tr.redPT, tr.codec = 63, redPrimaryCodec(redCodec)
	(*tr.layers.Load())[0].cache = nil
	withRED, plain := &recorder{}, &recorder{}
	dr := subscribe(tr, 1, 111, withRED)
	dr.wire.Store(uint64(wire(dr.wire.Load()).withRED(100)))
	subscribe(tr, 2, 109, plain)
	sink := &sinkRecorder{}
	tr.AddSink(sink)

	older, primary := []byte("older"), []byte("primary")
	red := redPayload(111, older, primary)
	raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 63, SequenceNumber: 7, Timestamp: 9600, SSRC: 5},
		Payload: red}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var pkt rtp.Packet
	forwardFirst(tr, raw, &pkt)

	check := func(who string, got []rtp.Packet, pt uint8, payload []byte) {
		t.Helper()
		if len(got) != 1 {
			t.Fatalf("%s got %d packets, want 1", who, len(got))
		}
		if p := got[0]; p.PayloadType != pt || !bytes.Equal(p.Payload, payload) || p.SequenceNumber != 7 || p.Timestamp != 9600 {
			t.Errorf("%s got payload type %d, seq %d, ts %d, %q; want %d, 7, 9600, %q",
				who, p.PayloadType, p.SequenceNumber, p.Timestamp, p.Payload, pt, payload)
		}
	}
	check("the subscriber of RED", withRED.packets(), 100, red)
	// Its Opus has payload type 109, not the blocks' 111: the primary alone.
	check("the subscriber of Opus", plain.packets(), 109, primary)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	check("the recording", sink.pkts, 111, primary)
}

// TestAnswerPrefersRED: meetd's answer to a publisher that offers RED
// lists it first among the audio codecs, as a browser sends RED only then.
func TestAnswerPrefersRED(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := NewAPI(Config{Loopback: true, Interfaces: []string{"lo"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterCodec(redCodec, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	client, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := client.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offer.SDP, "red/48000") {
		t.Fatalf("the offer has no RED:\n%s", offer.SDP)
	}
	server, err := a.NewPublishConnection()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if err := server.SetRemoteDescription(offer); err != nil {
		t.Fatal(err)
	}
	PreferRED(server)
	answer, err := server.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(answer.SDP); err != nil {
		t.Fatal(err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		if len(md.MediaName.Formats) == 0 {
			t.Fatal("no audio codecs in the answer")
		}
		first := md.MediaName.Formats[0]
		for _, at := range md.Attributes {
			if at.Key == "rtpmap" && strings.HasPrefix(at.Value, first+" ") && strings.HasPrefix(at.Value, first+" red/") {
				return
			}
		}
		t.Fatalf("the answer's first audio codec is %s, not RED:\n%s", first, answer.SDP)
	}
	t.Fatal("no audio in the answer")
}
