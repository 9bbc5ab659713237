package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// recordConfig records into a directory of the test's, without ffmpeg
// unless ffmpeg is given.
func recordConfig(t *testing.T, ffmpeg string) Config {
	if ffmpeg == "" {
		ffmpeg = "none"
	}
	return Config{Record: RecordConfig{Enabled: true, Dir: t.TempDir(), FFmpeg: ffmpeg}}
}

// apiRecording is a recording as GET /api/recordings gives it.
type apiRecording struct {
	ID           string   `json:"id"`
	Room         string   `json:"room"`
	Start        int64    `json:"start"`
	End          *int64   `json:"end"`
	Duration     float64  `json:"duration"`
	Size         int64    `json:"size"`
	Participants []string `json:"participants"`
	State        string   `json:"state"`
	Combined     struct {
		State    string  `json:"state"`
		Progress float64 `json:"progress"`
		Size     int64   `json:"size"`
		Error    string  `json:"error"`
	} `json:"combined"`
	Tracks []struct {
		File        string  `json:"file"`
		Participant string  `json:"participant"`
		Kind        string  `json:"kind"`
		Codec       string  `json:"codec"`
		Offset      float64 `json:"offset"`
		Duration    float64 `json:"duration"`
		Size        int64   `json:"size"`
	} `json:"tracks"`
	Chat []struct {
		Time float64 `json:"time"`
		Name string  `json:"name"`
		Text string  `json:"text"`
	} `json:"chat"`
}

type apiList struct {
	Recordings []apiRecording `json:"recordings"`
	FFmpeg     bool           `json:"ffmpeg"`
	Disk       struct{ Free, Used, Cap int64 }
}

// httpDo sends a request to meetd and returns the status and body.
func httpDo(t *testing.T, method, url string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func listRecordings(t *testing.T, base string, header http.Header) apiList {
	t.Helper()
	status, body := httpDo(t, "GET", base+"/api/recordings", header)
	if status != http.StatusOK {
		t.Fatalf("GET /api/recordings: %d %s", status, body)
	}
	var l apiList
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("GET /api/recordings: %v: %s", err, body)
	}
	return l
}

// TestRecordProtocol: the host starts and stops a recording; everyone,
// audience and late joiners included, is told; others are refused.
func TestRecordProtocol(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, recordConfig(t, ""))
	url := "ws://" + m.Addr() + "/ws"
	base := "http://" + m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ana := joinMeeting(t, ctx, url, "standup", testclient.Options{Name: "Ana"})
	defer ana.Close()
	ben := joinMeeting(t, ctx, url, "standup", testclient.Options{Name: "Ben"})
	defer ben.Close()
	viewer := dial(t, ctx, url, testclient.Options{Name: "Vi"})
	defer viewer.Close()
	if err := viewer.JoinKind(ctx, signal.KindMeeting, "standup", signal.RoleAudience); err != nil {
		t.Fatal(err)
	}
	waitAllMedia(t, ctx, []*testclient.Client{ana, ben}, []string{"Ana", "Ben"}, nil)

	// Only the host records.
	for _, c := range []*testclient.Client{viewer, ben} {
		if err := c.SendRecord(true); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitError(ctx, signal.CodeNotHost); err != nil {
			t.Fatal(err)
		}
	}
	if err := ana.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	var id string
	for _, c := range []*testclient.Client{ana, ben, viewer} {
		rec, err := c.WaitRecording(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID == "" || rec.By != "Ana" || rec.Since < time.Now().Add(-time.Minute).UnixMilli() {
			t.Fatalf("recording message %+v", rec)
		}
		id = rec.ID
	}
	// A late joiner hears of it.
	late := dial(t, ctx, url, testclient.Options{Name: "Late"})
	defer late.Close()
	if err := late.JoinKind(ctx, signal.KindMeeting, "standup", signal.RoleAudience); err != nil {
		t.Fatal(err)
	}
	if rec, err := late.WaitRecording(ctx, true); err != nil || rec.ID != id {
		t.Fatalf("late joiner: %+v %v", rec, err)
	}
	if err := ana.SendChat("we are on the record"); err != nil {
		t.Fatal(err)
	}
	// While it runs, it is listed as recording and cannot be deleted.
	waitUntil(t, ctx, "the recording listed with its tracks", func() bool {
		l := listRecordings(t, base, nil)
		return len(l.Recordings) == 1 && l.Recordings[0].ID == id && l.Recordings[0].State == "recording" &&
			len(l.Recordings[0].Tracks) == 4
	})
	if status, body := httpDo(t, "DELETE", base+"/api/recordings/"+id, nil); status != http.StatusConflict ||
		!strings.Contains(string(body), "stop it first") {
		t.Fatalf("DELETE while recording: %d %s", status, body)
	}

	if err := ana.SendRecord(false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{ana, ben, viewer, late} {
		rec, err := c.WaitRecording(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID != id || rec.Reason != signal.RecordingStopped || rec.Message == "" {
			t.Fatalf("stop message %+v", rec)
		}
	}
	var got apiRecording
	waitUntil(t, ctx, "the recording done", func() bool {
		l := listRecordings(t, base, nil)
		if len(l.Recordings) != 1 {
			return false
		}
		got = l.Recordings[0]
		return got.State == "done"
	})
	if got.End == nil || got.Room != "standup" || got.Combined.State != "unavailable" || len(got.Participants) != 2 {
		t.Fatalf("recording %+v", got)
	}
	kinds := map[string]int{}
	for _, tr := range got.Tracks {
		kinds[tr.Participant+" "+tr.Kind+" "+tr.Codec]++
		if tr.Size == 0 || tr.Duration <= 0 {
			t.Errorf("track %+v is empty", tr)
		}
	}
	for _, want := range []string{"Ana camera VP8", "Ana microphone opus", "Ben camera VP8", "Ben microphone opus"} {
		if kinds[want] != 1 {
			t.Errorf("tracks %v: want one %q", kinds, want)
		}
	}
	status, body := httpDo(t, "GET", base+"/api/recordings/"+id, nil)
	var one apiRecording
	if err := json.Unmarshal(body, &one); status != 200 || err != nil || len(one.Chat) != 1 || one.Chat[0].Name != "Ana" ||
		one.Chat[0].Text != "we are on the record" {
		t.Fatalf("GET one: %d %s", status, body)
	}
}

// TestRecordBroadcast: a broadcast's streamer records; a viewer may not;
// the recording ends with the broadcast.
func TestRecordBroadcast(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, recordConfig(t, ""))
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	streamer := goLive(t, ctx, url, "talk", testclient.Options{Name: "Sam"})
	defer streamer.Close()
	viewer := dial(t, ctx, url, testclient.Options{})
	defer viewer.Close()
	join(t, ctx, viewer, "talk", signal.RoleAudience)
	if err := viewer.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	if err := viewer.WaitError(ctx, signal.CodeNotAllowed); err != nil {
		t.Fatal(err)
	}
	if err := streamer.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.WaitRecording(ctx, true); err != nil {
		t.Fatal(err)
	}
	// The streamer leaves: the broadcast, and its recording, end.
	streamer.Close()
	rec, err := viewer.WaitRecording(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Reason != signal.RecordingEnded {
		t.Fatalf("stop message %+v, want reason ended", rec)
	}
}

// TestRecordRefusedBelowFloor: below the free-space floor (or with
// recording off) a record is refused in words, and nobody is told of a
// recording.
func TestRecordRefusedBelowFloor(t *testing.T) {
	checkLeaks(t)
	cfg := recordConfig(t, "")
	cfg.Record.MinFree = 1 << 60 // more than any disk has
	m := runMeetd(t, cfg)
	off := runMeetd(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		m    *Main
		want string
	}{{m, "-record-min-free"}, {off, "off on this server"}} {
		url := "ws://" + tc.m.Addr() + "/ws"
		host := enterMeeting(t, ctx, url, "standup", testclient.Options{Name: "Ana"})
		defer host.Close()
		if err := host.SendRecord(true); err != nil {
			t.Fatal(err)
		}
		if err := host.WaitError(ctx, signal.CodeRecordUnavailable); err != nil {
			t.Fatal(err)
		}
		errs := host.Errors()
		if msg := errs[len(errs)-1].Message; !strings.Contains(msg, tc.want) {
			t.Errorf("refusal %q does not say %q", msg, tc.want)
		}
		if len(host.Recordings()) != 0 {
			t.Errorf("told of a recording: %+v", host.Recordings())
		}
	}
}
