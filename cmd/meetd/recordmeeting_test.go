package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/testclient"
)

// TestRecordMeetingFiles records a meeting of three sending a real clip
// (a flash and a beep at the same instant): one leaves and comes back, one
// shares a screen. Every file is where the manifest says on the timeline,
// as long as ffprobe says, and decodes without an error; the combined file
// lasts the recording, has the screen-share layout, and its sound and
// pictures agree within 80 ms.
func TestRecordMeetingFiles(t *testing.T) {
	ffmpeg, ffprobe := needFFmpeg(t)
	checkLeaks(t)
	// Each participant beeps a tone of its own, so that in the mix of the
	// combined file one's beep cannot hide another's that overlaps it.
	tones := map[string]int{"Ana": 600, "Ben": 1200, "Cy": 2400}
	clips := map[string]*clip{}
	for who, hz := range tones {
		clips[who] = makeToneClip(t, ffmpeg, hz)
	}
	cfg := recordConfig(t, ffmpeg)
	m := runMeetd(t, cfg)
	url := "ws://" + m.Addr() + "/ws"
	base := "http://" + m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()

	ana := clipClient(t, ctx, url, "standup", "Ana", clips["Ana"])
	defer ana.Close()
	ben := clipClient(t, ctx, url, "standup", "Ben", clips["Ben"])
	defer func() { ben.Close() }()
	cy := clipClient(t, ctx, url, "standup", "Cy", clips["Cy"])
	defer cy.Close()
	waitAllMedia(t, ctx, []*testclient.Client{ana, ben, cy}, []string{"Ana", "Ben", "Cy"}, nil)

	if err := ana.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	on, err := ana.WaitRecording(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	since := time.UnixMilli(on.Since)
	at := func() float64 { return time.Since(since).Seconds() }
	// track waits until the recording has a file of who and kind (the
	// n-th of them) at least long seconds long.
	track := func(who, kind string, n int, long float64) {
		t.Helper()
		waitUntil(t, ctx, fmt.Sprintf("%s's %s #%d %.0f s long", who, kind, n, long), func() bool {
			l := listRecordings(t, base, nil)
			seen := 0
			for _, tr := range l.Recordings[0].Tracks {
				if tr.Participant == who && tr.Kind == kind {
					if seen++; seen == n && tr.Duration >= long {
						return true
					}
				}
			}
			return false
		})
	}

	track("Ana", "camera", 1, 1)
	if err := cy.StartScreen(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cy.SendMedia(true, true, testclient.ScreenStream); err != nil {
		t.Fatal(err)
	}
	track("Cy", "screen", 1, 2)
	ben.Close()
	benLeft := at()
	track("Ana", "camera", 1, benLeft+1)
	ben = clipClient(t, ctx, url, "standup", "Ben", clips["Ben"])
	benBack := at()
	track("Ben", "camera", 2, 1)
	if err := cy.StopScreen(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cy.SendMedia(true, true, ""); err != nil {
		t.Fatal(err)
	}
	screenOff := at()
	track("Ana", "camera", 1, 10)
	if err := ana.SendRecord(false); err != nil {
		t.Fatal(err)
	}
	if _, err := ana.WaitRecording(ctx, false); err != nil {
		t.Fatal(err)
	}
	stopped := at()

	var rec apiRecording
	waitUntil(t, ctx, "the combined file", func() bool {
		l := listRecordings(t, base, nil)
		rec = l.Recordings[0]
		if rec.Combined.State == "failed" {
			t.Fatalf("combined file failed: %s", rec.Combined.Error)
		}
		return rec.Combined.State == "ready"
	})
	dir := filepath.Join(cfg.Record.Dir, rec.ID)
	t.Logf("recording %.2f s; Ben left at %.2f, back at %.2f; screen off at %.2f; stopped at %.2f",
		rec.Duration, benLeft, benBack, screenOff, stopped)

	// Every file: codec, duration, place on the timeline, clean decode.
	count := map[string]int{}
	for _, tr := range rec.Tracks {
		key := tr.Participant + " " + tr.Kind
		count[key]++
		path := filepath.Join(dir, tr.File)
		p := probe(t, ffprobe, path)
		want := map[string]string{"VP8": "vp8", "opus": "opus"}[tr.Codec]
		if len(p.Streams) != 1 || p.Streams[0].CodecName != want {
			t.Errorf("%s: streams %+v, want one %s", tr.File, p.Streams, want)
		}
		if d := p.duration(); math.Abs(d-tr.Duration) > 0.3 {
			t.Errorf("%s: ffprobe says %.2f s, the manifest %.2f s", tr.File, d, tr.Duration)
		}
		if e := decodeErrors(t, ffmpeg, path); e != "" {
			t.Errorf("%s does not decode cleanly: %s", tr.File, e)
		}
		end := tr.Offset + tr.Duration
		var wantStart, wantEnd float64 = -1, -1
		switch {
		case tr.Participant == "Ben" && count[key] == 1:
			wantEnd = benLeft
		case tr.Participant == "Ben":
			wantEnd = stopped
			if tr.Offset < benBack-0.3 {
				t.Errorf("%s starts at %.2f s, before Ben came back (%.2f s)", tr.File, tr.Offset, benBack)
			}
		case tr.Kind == "screen":
			wantEnd = screenOff
		default:
			wantStart, wantEnd = 0, stopped
		}
		if wantStart >= 0 && tr.Offset > 0.3 {
			t.Errorf("%s starts at %.2f s, want the start", tr.File, tr.Offset)
		}
		if math.Abs(end-wantEnd) > 0.3 {
			t.Errorf("%s ends at %.2f s on the timeline, want %.2f", tr.File, end, wantEnd)
		}
	}
	for key, n := range map[string]int{"Ana camera": 1, "Ana microphone": 1, "Ben camera": 2, "Ben microphone": 2,
		"Cy camera": 1, "Cy microphone": 1, "Cy screen": 1} {
		if count[key] != n {
			t.Errorf("%d files of %s, want %d (all: %v)", count[key], key, n, count)
		}
	}

	// Per participant, the flash in the camera file and the beep in the
	// microphone file fall at the same place on the timeline.
	for _, v := range rec.Tracks {
		if v.Kind != "camera" {
			continue
		}
		for _, a := range rec.Tracks {
			if a.Kind != "microphone" || a.Participant != v.Participant || math.Abs(a.Offset-v.Offset) > 1 {
				continue
			}
			var bs []float64
			for _, b := range beeps(t, ffmpeg, filepath.Join(dir, a.File)) {
				bs = append(bs, b+a.Offset)
			}
			fs := flashes(t, ffmpeg, filepath.Join(dir, v.File), 40)
			if len(fs) == 0 || len(bs) == 0 {
				t.Errorf("%s/%s: %d flashes, %d beeps", v.File, a.File, len(fs), len(bs))
			}
			for _, f := range fs {
				if d := nearest(f+v.Offset, bs); d > 0.08 {
					t.Errorf("%s: the flash at %.3f s is %.0f ms from the nearest beep in %s", v.File, f+v.Offset, d*1000, a.File)
				}
			}
		}
	}

	// The combined file.
	combined := filepath.Join(dir, "combined.mp4")
	p := probe(t, ffprobe, combined)
	codecs := map[string]string{}
	for _, s := range p.Streams {
		codecs[s.CodecType] = s.CodecName
		if s.CodecType == "video" && (s.Width != 1280 || s.Height != 720) {
			t.Errorf("combined video %d×%d, want 1280×720", s.Width, s.Height)
		}
	}
	if codecs["video"] != "h264" || codecs["audio"] != "aac" {
		t.Errorf("combined streams %v", codecs)
	}
	if d := p.duration(); math.Abs(d-rec.Duration) > 0.3 {
		t.Errorf("combined file lasts %.2f s, the recording %.2f s", d, rec.Duration)
	}
	if e := decodeErrors(t, ffmpeg, combined); e != "" {
		t.Errorf("combined file does not decode cleanly: %s", e)
	}
	// While Cy shared a screen: the screen large on the left, three
	// cameras in the column on the right, the fourth place empty; after,
	// the screen's place is empty.
	during := grayFrame(t, ffmpeg, combined, (benBack+screenOff)/2)
	after := grayFrame(t, ffmpeg, combined, (screenOff+stopped)/2)
	for _, r := range []struct {
		what           string
		frame          []byte
		x0, y0, x1, y1 int
		lit            bool
	}{
		{"the screen share", during, 0, 0, 960, 720, true},
		{"the cameras' column", during, 960, 0, 1280, 540, true},
		{"the fourth camera's place", during, 960, 540, 1280, 720, false},
		{"the screen's place after the share", after, 0, 0, 960, 720, false},
	} {
		l := meanLuma(r.frame, 1280, r.x0, r.y0, r.x1, r.y1)
		if lit := l > 60; lit != r.lit {
			t.Errorf("combined file: %s has mean luma %.0f (lit %v, want %v)", r.what, l, lit, r.lit)
		}
	}
	// Each participant's flashes, in its camera's place (the column
	// beside the screen share, in the order of their first camera files),
	// and its own beeps.
	slot := map[string]int{}
	for _, tr := range rec.Tracks {
		if _, ok := slot[tr.Participant]; !ok && tr.Kind == "camera" {
			slot[tr.Participant] = len(slot)
		}
	}
	for who, hz := range tones {
		bs := beepsOf(t, ffmpeg, combined, hz)
		fs := flashesIn(t, ffmpeg, combined, fmt.Sprintf("320:180:960:%d", 180*slot[who]), 20)
		if len(fs) < 3 || len(bs) < 3 {
			t.Errorf("combined file: %s has %d flashes and %d beeps, want several", who, len(fs), len(bs))
		}
		var off []string
		for _, f := range fs {
			d := nearest(f, bs)
			off = append(off, fmt.Sprintf("%.0f", d*1000))
			if d > 0.08 {
				t.Errorf("combined file: %s's flash at %.3f s is %.0f ms from the nearest beep", who, f, d*1000)
			}
		}
		t.Logf("combined file: %s's flash to beep, ms: %s", who, strings.Join(off, " "))
	}

	// Range requests and the download's name.
	req, _ := http.NewRequest("GET", base+"/recordings/"+rec.ID+"/combined", nil)
	req.Header.Set("Range", "bytes=0-99")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || resp.ContentLength != 100 ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "standup-"+rec.ID+".mp4") {
		t.Errorf("range request: %d, %d bytes, %q", resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Disposition"))
	}
}
