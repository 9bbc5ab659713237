package sfu

import (
	"io"
	"log/slog"
	"testing"

	"github.com/pion/webrtc/v4"
)

// BenchmarkSubscribeOffer is what the server spends on a viewer's
// subscribe connection before the viewer answers: the peer connection, its
// ICE agent, and the offer of a video track.
func BenchmarkSubscribeOffer(b *testing.B) {
	a, err := NewAPI(Config{Loopback: true, Interfaces: []string{"lo"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	for b.Loop() {
		pc, err := a.NewSubscribeConnection()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			b.Fatal(err)
		}
		o, err := pc.CreateOffer(nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := pc.SetLocalDescription(o); err != nil {
			b.Fatal(err)
		}
		pc.Close()
	}
}
