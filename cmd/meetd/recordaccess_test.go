package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// recordOnce has host record its room until the recording has a file,
// then stop, and returns the recording's id.
func recordOnce(t *testing.T, ctx context.Context, base string, host *testclient.Client) string {
	t.Helper()
	if err := host.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	on, err := host.WaitRecording(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "a file in the recording", func() bool {
		for _, r := range listRecordings(t, base, nil).Recordings {
			if r.ID == on.ID && len(r.Tracks) > 0 {
				return true
			}
		}
		return false
	})
	if err := host.SendRecord(false); err != nil {
		t.Fatal(err)
	}
	if _, err := host.WaitRecording(ctx, false); err != nil {
		t.Fatal(err)
	}
	return on.ID
}

// TestRecordingsAccess: the operator sees every recording, a room's
// stage password opens that room's only, anyone else gets 401 in words;
// bad ids, unknown files and paths out of the directory are refused.
func TestRecordingsAccess(t *testing.T) {
	checkLeaks(t)
	cfg := recordConfig(t, "")
	cfg.RoomsFile = roomsFile(t, `{"rooms":[{"kind":"meeting","name":"board","stagePassword":"{hash}"}]}`)
	cfg.AdminPassword = "op-secret"
	m := runMeetd(t, cfg)
	url := "ws://" + m.Addr() + "/ws"
	base := "http://" + m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	board := dial(t, ctx, url, testclient.Options{Name: "Ana"})
	defer board.Close()
	if err := board.JoinWith(ctx, signal.Message{Type: signal.TypeJoin, Kind: signal.KindMeeting, Room: "board",
		Role: signal.RoleStage, Password: "letmein"}); err != nil {
		t.Fatal(err)
	}
	if err := board.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	open := joinMeeting(t, ctx, url, "open", testclient.Options{Name: "Ben"})
	defer open.Close()
	boardID := recordOnce(t, ctx, base, board)
	openID := recordOnce(t, ctx, base, open)

	// A request through a proxy is not the operator's.
	proxied := http.Header{"X-Forwarded-For": {"203.0.113.9"}}
	with := func(h http.Header, kv ...string) http.Header {
		out := http.Header{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	ids := func(h http.Header, query string) []string {
		t.Helper()
		status, body := httpDo(t, "GET", base+"/api/recordings"+query, h)
		if status != http.StatusOK {
			t.Fatalf("list %s: %d %s", query, status, body)
		}
		var l apiList
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range l.Recordings {
			out = append(out, r.ID)
		}
		return out
	}
	if got := ids(nil, ""); len(got) != 2 {
		t.Fatalf("operator on this machine sees %v, want both", got)
	}
	admin := with(proxied, "Authorization", "Basic "+basic("admin", "op-secret"))
	if got := ids(admin, ""); len(got) != 2 {
		t.Fatalf("operator with the admin password sees %v, want both", got)
	}
	if got := ids(with(proxied, "X-Meetd-Room", "board", "X-Meetd-Password", "letmein"), ""); len(got) != 1 || got[0] != boardID {
		t.Fatalf("board's stage password sees %v, want only %s", got, boardID)
	}
	if got := ids(proxied, "?room=board&password=letmein"); len(got) != 1 || got[0] != boardID {
		t.Fatalf("board's stage password in the query sees %v, want only %s", got, boardID)
	}
	for _, tc := range []struct {
		what, path string
		h          http.Header
		status     int
		words      string
	}{
		{"no credential", "/api/recordings", proxied, 401, "admin password"},
		{"a wrong password", "/api/recordings?room=board&password=nope", proxied, 401, "does not open the stage"},
		{"an open room, which has no stage credential", "/api/recordings?room=open&password=x", proxied, 401, "does not open"},
		{"another room's recording", "/api/recordings/" + openID + "?room=board&password=letmein", proxied, 404, "no recording"},
		{"another room's file", "/recordings/" + openID + "/combined?room=board&password=letmein", proxied, 404, "no recording"},
		{"a malformed id", "/api/recordings/abc", nil, 400, "not a recording id"},
		{"an unknown id", "/api/recordings/20000101-000000-abcdef", nil, 404, "no recording"},
		{"a file not in the recording", "/recordings/" + boardID + "/files/manifest.json", nil, 404, "has no file"},
		{"a path out of the recording", "/recordings/" + boardID + "/files/..%2F..%2Frooms.json", nil, 404, "has no file"},
		{"a combined file never made (no ffmpeg)", "/recordings/" + boardID + "/combined", nil, 404, "ffmpeg"},
	} {
		status, body := httpDo(t, "GET", base+tc.path, tc.h)
		if status != tc.status || !strings.Contains(string(body), tc.words) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.what, status, body, tc.status, tc.words)
		}
	}
	// A track file, with its stage password, and the recordings page.
	var rec apiRecording
	_, body := httpDo(t, "GET", base+"/api/recordings/"+boardID, nil)
	if err := json.Unmarshal(body, &rec); err != nil || len(rec.Tracks) == 0 {
		t.Fatalf("recording: %v %s", err, body)
	}
	if status, _ := httpDo(t, "GET", base+"/recordings/"+boardID+"/files/"+rec.Tracks[0].File+"?room=board&password=letmein", proxied); status != 200 {
		t.Errorf("track file with the stage password: %d", status)
	}
	for _, page := range []string{"/recordings", "/recordings/" + boardID} {
		if status, body := httpDo(t, "GET", base+page, nil); status != 200 || !strings.Contains(string(body), "<") {
			t.Errorf("page %s: %d", page, status)
		}
	}
	// Deleting: then it is gone.
	if status, body := httpDo(t, "DELETE", base+"/api/recordings/"+boardID, proxied); status != 401 {
		t.Errorf("DELETE without a credential: %d %s", status, body)
	}
	if status, body := httpDo(t, "DELETE", base+"/api/recordings/"+boardID, nil); status != 204 {
		t.Errorf("DELETE: %d %s", status, body)
	}
	if status, _ := httpDo(t, "GET", base+"/api/recordings/"+boardID, nil); status != 404 {
		t.Errorf("GET after DELETE: %d", status)
	}
}

// TestRecordAutoRoom: a rooms-file room with "record": true is recorded
// whenever it is live (a WHIP publisher goes through the same client
// code), and stops
// with the broadcast; its host cannot stop it by hand.
func TestRecordAutoRoom(t *testing.T) {
	checkLeaks(t)
	cfg := recordConfig(t, "")
	cfg.RoomsFile = roomsFile(t, `{"rooms":[{"name":"keynote","record":true}]}`)
	m := runMeetd(t, cfg)
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	viewer := dial(t, ctx, url, testclient.Options{})
	defer viewer.Close()
	join(t, ctx, viewer, "keynote", signal.RoleAudience)
	streamer := goLive(t, ctx, url, "keynote", testclient.Options{Name: "Sam"})
	defer streamer.Close()
	on, err := viewer.WaitRecording(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if on.By != "" {
		t.Errorf("recording by %q, want nobody (the rooms file)", on.By)
	}
	if err := streamer.SendRecord(false); err != nil {
		t.Fatal(err)
	}
	if err := streamer.WaitError(ctx, signal.CodeNotAllowed); err != nil {
		t.Fatal(err)
	}
	streamer.Close()
	off, err := viewer.WaitRecording(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if off.ID != on.ID || off.Reason != signal.RecordingEnded {
		t.Errorf("stop %+v, want %s ended", off, on.ID)
	}
}

// TestRecordCapStops: a recording that reaches the size cap stops
// cleanly: everyone is told why, and its files are kept.
func TestRecordCapStops(t *testing.T) {
	checkLeaks(t)
	cfg := recordConfig(t, "")
	cfg.Record.MaxBytes = 30 << 10
	m := runMeetd(t, cfg)
	url := "ws://" + m.Addr() + "/ws"
	base := "http://" + m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ana := joinMeeting(t, ctx, url, "standup", testclient.Options{Name: "Ana"})
	defer ana.Close()
	ben := joinMeeting(t, ctx, url, "standup", testclient.Options{Name: "Ben"})
	defer ben.Close()
	if err := ana.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{ana, ben} {
		off, err := c.WaitRecording(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if off.Reason != signal.RecordingDiskFull || !strings.Contains(off.Message, "-record-max-bytes") {
			t.Errorf("stop %+v, want disk_full naming the cap", off)
		}
	}
	l := listRecordings(t, base, nil)
	if len(l.Recordings) != 1 || l.Recordings[0].State != "done" || l.Recordings[0].Size == 0 || l.Disk.Cap != 30<<10 {
		t.Fatalf("recordings %+v", l)
	}
	// Now at the cap, a new one is refused in words.
	if err := ana.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	if err := ana.WaitError(ctx, signal.CodeRecordUnavailable); err != nil {
		t.Fatal(err)
	}
	status, body := httpDo(t, "GET", base+"/metrics", nil)
	if status != 200 || !strings.Contains(string(body), "meetd_record_dropped_packets_total") ||
		!strings.Contains(string(body), "meetd_recordings_started_total 1") {
		t.Errorf("metrics: %d, no recording figures", status)
	}
}

// basic is an HTTP basic credential.
func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// TestRecordAutoRoomWHIP: a WHIP publisher (OBS, say) that goes live in a
// rooms-file room with "record": true is recorded with nobody to press
// Record: its audience is told, and when the stream ends the recording
// stops with it and lists a file for each of its tracks, with media in it.
func TestRecordAutoRoomWHIP(t *testing.T) {
	checkLeaks(t)
	cfg := recordConfig(t, "")
	cfg.RoomsFile = roomsFile(t, `{"rooms":[{"name":"obs","record":true}]}`)
	m := runMeetd(t, cfg)
	url := "ws://" + m.Addr() + "/ws"
	base := "http://" + m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	viewer := dial(t, ctx, url, testclient.Options{})
	defer viewer.Close()
	join(t, ctx, viewer, "obs", signal.RoleAudience)
	pub, err := testclient.PublishWHIP(ctx, base+"/whip/obs", testclient.HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	on, err := viewer.WaitRecording(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if on.By != "" {
		t.Errorf("recording by %q, want nobody (the rooms file)", on.By)
	}
	waitMedia(t, ctx, "viewer", viewer)
	if status, err := pub.Delete(ctx); err != nil || status != http.StatusOK {
		t.Fatalf("DELETE of the WHIP session: %d %v", status, err)
	}
	off, err := viewer.WaitRecording(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if off.ID != on.ID || off.Reason != signal.RecordingEnded {
		t.Errorf("stop %+v, want %s ended", off, on.ID)
	}
	var rec *apiRecording
	for _, r := range listRecordings(t, base, nil).Recordings {
		if r.ID == on.ID {
			rec = &r
		}
	}
	if rec == nil {
		t.Fatalf("recording %s is not listed", on.ID)
	}
	kinds := map[string]int64{}
	for _, tr := range rec.Tracks {
		kinds[tr.Kind] += tr.Size
	}
	if kinds["camera"] == 0 || kinds["microphone"] == 0 {
		t.Errorf("files of the WHIP stream by kind, bytes: %v; want a camera and a microphone with media", kinds)
	}
}
