package client

import "testing"

const chromeOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n"

func TestCountSentTracks(t *testing.T) {
	tests := []struct {
		name  string
		offer string
		want  int
	}{
		{"audio and video", chromeOffer, 2},
		{"a receive-only section", chromeOffer + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=recvonly\r\n", 2},
		{"an inactive section", chromeOffer + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=inactive\r\n", 2},
		{"a rejected section", chromeOffer + "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\n", 2},
		{"a data channel", chromeOffer + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n", 2},
	}
	for _, tt := range tests {
		got, err := countSentTracks(tt.offer)
		if err != nil || got != tt.want {
			t.Errorf("%s: %d %v, want %d", tt.name, got, err, tt.want)
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
		if err == nil && n < 0 {
			t.Fatalf("%d tracks", n)
		}
	})
}
