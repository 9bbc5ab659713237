package client

import (
	"fmt"
	"testing"
)

const chromeOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n"

// sending is an m-section numbered mid that sends, with simulcast layers.
func sending(kind string, mid, layers int) string {
	s := fmt.Sprintf("m=%s 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:%d\r\na=sendonly\r\n", kind, mid)
	for i := range layers {
		s += fmt.Sprintf("a=rid:r%d send\r\n", i)
	}
	return s
}

func TestCountSentTracks(t *testing.T) {
	tests := []struct {
		name  string
		offer string
		want  sentTracks
		ok    bool
	}{
		{"audio and video", chromeOffer, sentTracks{1, 1, 0}, true},
		{"a receive-only section", chromeOffer + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=recvonly\r\n", sentTracks{1, 1, 0}, true},
		{"an inactive section", chromeOffer + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=inactive\r\n", sentTracks{1, 1, 0}, true},
		{"a rejected section", chromeOffer + "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\n", sentTracks{1, 1, 0}, true},
		{"a data channel", chromeOffer + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n", sentTracks{1, 1, 0}, true},
		{"a screen and its sound", chromeOffer + sending("video", 2, 0) + sending("audio", 3, 0), sentTracks{2, 2, 0}, true},
		{"a third video", chromeOffer + sending("video", 2, 0) + sending("video", 3, 0), sentTracks{1, 3, 0}, false},
		{"a third audio", chromeOffer + sending("audio", 2, 0) + sending("audio", 3, 0), sentTracks{3, 1, 0}, false},
		{"three layers", chromeOffer + sending("video", 2, 3), sentTracks{1, 2, 3}, true},
		{"five layers", chromeOffer + sending("video", 2, 5), sentTracks{1, 2, 5}, false},
	}
	for _, tt := range tests {
		got, err := countSentTracks(tt.offer)
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v %v, want %+v", tt.name, got, err, tt.want)
		}
		if err := got.check(); (err == nil) != tt.ok {
			t.Errorf("%s: check %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	if _, err := countSentTracks("not an sdp"); err == nil {
		t.Error("garbage accepted")
	}
}

// FuzzCountSentTracks feeds offers from outside to the parser meetd runs
// before pion sees them.
func FuzzCountSentTracks(f *testing.F) {
	f.Add(chromeOffer)
	f.Add("v=0\r\n")
	f.Add("m=audio 9 RTP/AVP 0\r\n")
	f.Fuzz(func(t *testing.T, offer string) {
		n, err := countSentTracks(offer)
		if err == nil && (n.audio < 0 || n.video < 0 || n.layers < 0) {
			t.Fatalf("%+v tracks", n)
		}
	})
}
