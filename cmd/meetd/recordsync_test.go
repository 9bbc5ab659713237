package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/testclient"
)

// slowAudio is an interceptor, below a client's sender reports, that
// holds each audio packet for delay before it goes on the wire, in order:
// a path on which the microphone's packets come later than the camera's,
// while the sender reports (made above it) tell when each was taken.
type slowAudio struct {
	interceptor.NoOp
	delay time.Duration
	done  chan struct{}
}

func (s *slowAudio) NewInterceptor(string) (interceptor.Interceptor, error) { return s, nil }

func (s *slowAudio) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if !strings.HasPrefix(strings.ToLower(info.MimeType), "audio/") {
		return w
	}
	type held struct {
		due     time.Time
		h       rtp.Header
		payload []byte
	}
	q := make(chan held, 1024)
	go func() {
		for {
			select {
			case <-s.done:
				return
			case p := <-q:
				select {
				case <-s.done:
					return
				case <-time.After(time.Until(p.due)):
				}
				_, _ = w.Write(&p.h, p.payload, nil)
			}
		}
	}()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
		select {
		case q <- held{time.Now().Add(s.delay), h.Clone(), append([]byte(nil), payload...)}:
		default:
		}
		return len(payload), nil
	})
}

// TestRecordSenderReportSync: a publisher's microphone reaches meetd
// 300 ms after its camera (the same instant's flash and beep), and its
// sender reports say when each was taken: the recording places the two
// files on its timeline by those reports, so that flash and beep fall
// within 80 ms of each other, where the packets' arrival would put them
// 300 ms apart.
func TestRecordSenderReportSync(t *testing.T) {
	ffmpeg, _ := needFFmpeg(t)
	checkLeaks(t)
	cl := makeClip(t, ffmpeg)
	cfg := recordConfig(t, "")
	m := runMeetd(t, cfg)
	url := "ws://" + m.Addr() + "/ws"
	base := "http://" + m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	slow := &slowAudio{delay: 300 * time.Millisecond, done: make(chan struct{})}
	defer close(slow.done)
	api, err := testclient.NewAPI(testclient.Network{}, func(me *webrtc.MediaEngine, ir *interceptor.Registry) error {
		ir.Add(slow) // nearest the wire: the reports above see the packets when they were taken
		return webrtc.RegisterDefaultInterceptors(me, ir)
	})
	if err != nil {
		t.Fatal(err)
	}
	var self atomic.Pointer[testclient.Client]
	ana := joinMeeting(t, ctx, url, "standup", testclient.Options{Name: "Ana", API: api, Media: cl.media(&self)})
	self.Store(ana)
	defer ana.Close()
	if err := ana.WaitMedia(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := ana.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	if _, err := ana.WaitRecording(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "7 s of camera and microphone", func() bool {
		n := 0
		for _, tr := range listRecordings(t, base, nil).Recordings[0].Tracks {
			if tr.Duration >= 7 {
				n++
			}
		}
		return n == 2
	})
	if err := ana.SendRecord(false); err != nil {
		t.Fatal(err)
	}
	if _, err := ana.WaitRecording(ctx, false); err != nil {
		t.Fatal(err)
	}
	var rec apiRecording
	waitUntil(t, ctx, "the recording's end", func() bool {
		rec = listRecordings(t, base, nil).Recordings[0]
		return rec.End != nil
	})
	dir := filepath.Join(cfg.Record.Dir, rec.ID)
	var cam, mic, micEnd float64
	var fs, bs []float64
	for _, tr := range rec.Tracks {
		switch tr.Kind {
		case "camera":
			cam = tr.Offset
			for _, f := range flashes(t, ffmpeg, filepath.Join(dir, tr.File), 40) {
				fs = append(fs, f+tr.Offset)
			}
		case "microphone":
			mic, micEnd = tr.Offset, tr.Offset+tr.Duration
			for _, b := range beeps(t, ffmpeg, filepath.Join(dir, tr.File)) {
				bs = append(bs, b+tr.Offset)
			}
		}
	}
	t.Logf("camera at %.3f s, microphone at %.3f s on the timeline; flashes %v, beeps %v", cam, mic, fs, bs)
	if len(fs) < 2 || len(bs) < 2 {
		t.Fatalf("%d flashes and %d beeps, want at least 2 of each", len(fs), len(bs))
	}
	for _, f := range fs {
		if f < mic+0.2 || f > micEnd-0.2 {
			continue // no sound recorded then
		}
		if d := nearest(f, bs); d > 0.08 {
			t.Errorf("the flash at %.3f s is %.0f ms from the nearest beep, want 80 ms at most", f, d*1000)
		}
	}
}
