package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

func TestWHIPPublisherReachesViewersAndWHEPPlayers(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	base := httpBase(url)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	viewer := dial(t, ctx, url, testclient.Options{})
	defer viewer.Close()
	join(t, ctx, viewer, "obs", "audience")

	// Nothing to play yet.
	_, err := testclient.PlayWHEP(ctx, base+"/whep/obs", testclient.HTTPOptions{})
	he := wantStatus(t, "WHEP before the broadcast", err, http.StatusServiceUnavailable)
	if he.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	pub, err := testclient.PublishWHIP(ctx, base+"/whip/obs", testclient.HTTPOptions{Trickle: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if !strings.Contains(pub.Location, "/whip/obs/") {
		t.Errorf("Location %q", pub.Location)
	}
	waitMedia(t, ctx, "WebSocket viewer of a WHIP stream", viewer)
	waitUntil(t, ctx, "trickled candidates", func() bool { return len(pub.Trickled()) > 0 })
	for _, st := range pub.Trickled() {
		if st != http.StatusNoContent {
			t.Errorf("PATCH with a candidate answered %d", st)
		}
	}

	// One streamer at a time.
	_, err = testclient.PublishWHIP(ctx, base+"/whip/obs", testclient.HTTPOptions{})
	wantStatus(t, "a second WHIP publisher", err, http.StatusConflict)

	player, err := testclient.PlayWHEP(ctx, base+"/whep/obs", testclient.HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	waitUntil(t, ctx, "WHEP audio and video", func() bool {
		return player.Packets(webrtc.RTPCodecTypeAudio) > 25 && player.Packets(webrtc.RTPCodecTypeVideo) > 25
	})

	// Wrong content type and bad fragments; another session's URL.
	if st, _, _ := pub.Patch(ctx, "text/plain", "a=candidate:x"); st != http.StatusUnsupportedMediaType {
		t.Errorf("PATCH text/plain: %d", st)
	}
	if st, _, _ := pub.Patch(ctx, "application/trickle-ice-sdpfrag", "a=candidate:nonsense\r\n"); st != http.StatusBadRequest {
		t.Errorf("PATCH with a bad candidate: %d", st)
	}
	if st, _, _ := pub.Patch(ctx, "application/trickle-ice-sdpfrag", "a=ice-ufrag:other\r\na=ice-pwd:otherotherotherotherother\r\n"); st != http.StatusUnprocessableEntity {
		t.Errorf("PATCH with an ICE restart: %d", st)
	}

	// DELETE stops the broadcast: the viewer hears it, the WHEP session ends.
	if st, err := pub.Delete(ctx); err != nil || st != http.StatusOK {
		t.Fatalf("DELETE: %d %v", st, err)
	}
	// Gone at once, while its participant still leaves the room.
	if st, _, _ := pub.Patch(ctx, "application/trickle-ice-sdpfrag", ""); st != http.StatusNotFound {
		t.Errorf("PATCH right after DELETE: %d", st)
	}
	waitUntil(t, ctx, "the viewer to see the broadcast end", func() bool {
		st, ok := viewer.LastState()
		return ok && st.Live != nil && !*st.Live
	})
	if st, _, _ := pub.Patch(ctx, "application/trickle-ice-sdpfrag", ""); st != http.StatusNotFound {
		t.Errorf("PATCH after DELETE: %d", st)
	}
	// The broadcast's end ends the player's session, which the player
	// never deleted: meetd forgets its URL and closes its peer connection,
	// so the player's ICE, answered no more, fails.
	waitUntil(t, ctx, "the WHEP session's URL to be gone", func() bool {
		st, _, _ := player.Patch(ctx, "application/trickle-ice-sdpfrag", "")
		return st == http.StatusNotFound
	})
	waitUntil(t, ctx, "the WHEP player's connection to fail", func() bool {
		st := player.State()
		return st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed
	})
}

func TestWHIPRefusesBadRequests(t *testing.T) {
	checkLeaks(t)
	base := httpBase(startMeetd(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	post := func(path, contentType, body string, header ...string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	for _, tc := range []struct {
		name, path, contentType, body string
		status                        int
	}{
		{"wrong content type", "/whip/x", "application/json", "{}", http.StatusUnsupportedMediaType},
		{"not SDP", "/whip/x", "application/sdp", "hello", http.StatusBadRequest},
		{"SDP pion refuses", "/whip/x", "application/sdp", "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", http.StatusBadRequest},
		{"bad room name", "/whip/no%20spaces", "application/sdp", "v=0", http.StatusNotFound},
		{"WHEP of nothing", "/whep/x", "application/sdp", "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", http.StatusServiceUnavailable},
		{"too large", "/whip/x", "application/sdp", strings.Repeat("a", 70<<10), http.StatusRequestEntityTooLarge},
	} {
		if res := post(tc.path, tc.contentType, tc.body); res.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, res.StatusCode, tc.status)
		}
	}
	for _, method := range []string{http.MethodPatch, http.MethodDelete} {
		req, _ := http.NewRequestWithContext(ctx, method, base+"/whip/x/0123456789abcdef", nil)
		req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s of an unknown session: %d", method, res.StatusCode)
		}
	}

	// CORS: meetd's own origin may call, others get no CORS headers.
	req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, base+"/whep/x", nil)
	req.Header.Set("Origin", base)
	req.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != base ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight from meetd's origin: %d %v", res.StatusCode, res.Header)
	}
	if res := post("/whep/x", "application/sdp", "v=0", "Origin", "http://elsewhere.example"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin was allowed: %v", res.Header)
	}
}

func TestWHIPBearerAuth(t *testing.T) {
	checkLeaks(t)
	secret := "s3cret"
	rooms := roomsFile(t, `{"rooms":[
		{"name":"studio","stagePassword":"{hash}"},
		{"name":"keynote","stageToken":true,"audienceToken":true}]}`)
	m := runMeetd(t, Config{RoomsFile: rooms, TokenSecret: secret})
	base := "http://" + m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, err := testclient.PublishWHIP(ctx, base+"/whip/studio", testclient.HTTPOptions{})
	if he := wantStatus(t, "no token", err, http.StatusUnauthorized); !strings.HasPrefix(he.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without a Bearer challenge: %v", he.Header)
	}
	_, err = testclient.PublishWHIP(ctx, base+"/whip/studio", testclient.HTTPOptions{Token: "guess"})
	wantStatus(t, "wrong password", err, http.StatusForbidden)
	pub, err := testclient.PublishWHIP(ctx, base+"/whip/studio", testclient.HTTPOptions{Token: "letmein"})
	if err != nil {
		t.Fatalf("the stage password as bearer token: %v", err)
	}
	defer pub.Close()
	if st, _, _ := (&testclient.HTTPSession{Location: pub.Location}).Patch(ctx, "application/trickle-ice-sdpfrag", ""); st != http.StatusUnauthorized {
		t.Errorf("PATCH without the token: %d", st)
	}

	stage, err := access.Sign([]byte(secret), access.Claims{Kind: "broadcast", Room: "keynote", Role: "stage"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	watch, err := access.Sign([]byte(secret), access.Claims{Kind: "broadcast", Room: "keynote", Role: "audience"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = testclient.PublishWHIP(ctx, base+"/whip/keynote", testclient.HTTPOptions{Token: watch})
	wantStatus(t, "an audience token to publish", err, http.StatusForbidden)
	kp, err := testclient.PublishWHIP(ctx, base+"/whip/keynote", testclient.HTTPOptions{Token: stage})
	if err != nil {
		t.Fatalf("a stage token: %v", err)
	}
	defer kp.Close()
	_, err = testclient.PlayWHEP(ctx, base+"/whep/keynote", testclient.HTTPOptions{})
	wantStatus(t, "WHEP without a token", err, http.StatusUnauthorized)
	player := playWHEP(t, ctx, base+"/whep/keynote", testclient.HTTPOptions{Token: watch})
	defer player.Close()
	waitUntil(t, ctx, "WHEP video", func() bool { return player.Packets(webrtc.RTPCodecTypeVideo) > 25 })
}

// TestWHEPPlayerFollowsTheStage: when the streamer leaves and a guest
// stays on stage, a WHEP player goes on with the guest's tracks, on the
// same stream, and its keyframe requests reach the guest.
func TestWHEPPlayerFollowsTheStage(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	url, base := "ws://"+m.Addr()+"/ws", "http://"+m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	streamer := goLive(t, ctx, url, "show", testclient.Options{Name: "Host"})
	defer streamer.Close()
	guest := dial(t, ctx, url, testclient.Options{Name: "Guest"})
	defer guest.Close()
	join(t, ctx, guest, "show", signal.RoleAudience)
	inviteToStage(t, ctx, streamer, guest)
	player := playWHEP(t, ctx, base+"/whep/show", testclient.HTTPOptions{})
	defer player.Close()
	waitUntil(t, ctx, "the player's video", func() bool { return player.Packets(webrtc.RTPCodecTypeVideo) > 50 })

	streamer.Close()
	before := player.Packets(webrtc.RTPCodecTypeVideo)
	waitUntil(t, ctx, "the guest's video at the player", func() bool {
		return player.Packets(webrtc.RTPCodecTypeVideo) > before+100 && guest.KeyframeRequests() > 0
	})
	// Past the keyframe asked for when the player's sender took the
	// guest's track, and any held back by the rate limit (sent with the
	// first packet after its half second): once 60 video packets (a
	// second) reach the player with no request at the guest, none is
	// pending, and the next one is the player's.
	var asked int64
	for {
		asked = guest.KeyframeRequests()
		video := player.Packets(webrtc.RTPCodecTypeVideo)
		waitUntil(t, ctx, "the player's video to go on", func() bool { return player.Packets(webrtc.RTPCodecTypeVideo) >= video+60 })
		if guest.KeyframeRequests() == asked {
			break
		}
	}
	if err := player.RequestKeyframe(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "the player's keyframe request at the guest", func() bool {
		return guest.KeyframeRequests() > asked
	})
}
