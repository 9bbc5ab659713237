package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/signal"
)

// offerSending makes a real pion offer that sends audio and video tracks.
func offerSending(t *testing.T, audio, video int) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	add := func(kind string, n int) {
		for i := range n {
			mime := webrtc.MimeTypeVP8
			if kind == "audio" {
				mime = webrtc.MimeTypeOpus
			}
			tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime}, kind+string(rune('a'+i)), "stream")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("audio", audio)
	add("video", video)
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

// A publisher sends at most a camera and a screen, a microphone and the
// screen's sound: an offer with more is refused in words, over the
// WebSocket (which stays open) and over WHIP.
func TestPublisherTracksAreCapped(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	r := dialRaw(t, ctx, "ws://"+m.Addr()+"/ws", nil)
	r.send(ctx, `{"type":"join","room":"caps","kind":"meeting","role":"stage"}`)
	if msg, err := r.next(ctx); err != nil || msg.Type != signal.TypeJoined {
		t.Fatalf("join: %+v %v", msg, err)
	}
	for _, n := range [][2]int{{1, 3}, {3, 1}} {
		data, _ := json.Marshal(signal.Message{Type: signal.TypeOffer, SDP: offerSending(t, n[0], n[1])})
		r.send(ctx, string(data))
		r.expectError(ctx, signal.CodeNotAllowed)
	}
	if got := len(m.rooms.Get(room.Meeting, "caps").Snapshot().Tracks); got != 0 {
		t.Fatalf("%d tracks on stage after refused offers", got)
	}
	// The connection is still there.
	r.send(ctx, `{"type":"chat","text":"still here"}`)
	if msg, err := r.next(ctx); err != nil || msg.Type != signal.TypeChat || msg.Text != "still here" {
		t.Fatalf("after the refusals: %+v %v", msg, err)
	}

	resp, err := http.Post("http://"+m.Addr()+"/whip/caps", "application/sdp", strings.NewReader(offerSending(t, 1, 3)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "at most 2 video tracks") {
		t.Fatalf("WHIP with three videos: %d %s", resp.StatusCode, body)
	}
}
