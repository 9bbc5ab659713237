package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// TestRecordSimulcastBestLayer: a simulcast camera is recorded from its
// largest layer, even while nobody watches it (the small layers paused).
func TestRecordSimulcastBestLayer(t *testing.T) {
	checkLeaks(t)
	cfg := recordConfig(t, "")
	m := runMeetd(t, cfg)
	url := "ws://" + m.Addr() + "/ws"
	base := "http://" + m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	pub := dial(t, ctx, url, testclient.Options{Simulcast: true, Name: "Sam"})
	defer pub.Close()
	join(t, ctx, pub, "talk", signal.RoleStage)
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pub.SendRecord(true); err != nil {
		t.Fatal(err)
	}
	on, err := pub.WaitRecording(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody watches: meetd pauses the layers the recording does not take.
	if err := pub.WaitLayers(ctx, "f"); err != nil {
		t.Fatalf("%v: layers %v", err, pub.Layers())
	}
	waitUntil(t, ctx, "4 s of camera", func() bool {
		for _, tr := range listRecordings(t, base, nil).Recordings[0].Tracks {
			if tr.Kind == "camera" && tr.Duration >= 4 {
				return true
			}
		}
		return false
	})
	if err := pub.SendRecord(false); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WaitRecording(ctx, false); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.Record.Dir, on.ID, "Sam-video-*.webm"))
	if len(files) != 1 {
		t.Fatalf("camera files %v", files)
	}
	frames := readBlocks(t, files[0])
	// The payload's marker, past the 5-byte descriptor meetd's
	// depacketizer took off, names the layer.
	at := testclient.SimulcastMarkerAt - 5
	// Until the f layer arrives, the best there is is recorded; from its
	// first frame on, only f.
	markers := map[byte]int{}
	sawF := false
	for _, f := range frames {
		if len(f) > at {
			sawF = sawF || f[at] == 'f'
			if sawF {
				markers[f[at]]++
			}
		}
	}
	if len(frames) < 60 || markers['f'] < len(frames)-5 || len(markers) != 1 {
		t.Fatalf("%d frames by layer marker %v, want them all from f (%d)", len(frames), markers, 'f')
	}
}
