package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// trialLog keeps what meetd logs, for a test to wait on.
type trialLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *trialLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// line returns the first line logged that holds every one of parts.
func (b *trialLog) line(parts ...string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
next:
	for _, l := range strings.Split(b.buf.String(), "\n") {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				continue next
			}
		}
		return l
	}
	return ""
}

// TestViewerStepsDownOnAFarLowerREMB: a viewer whose REMB falls far below
// what meetd sends it is capped to the smallest layer at once, with no
// receiver report showing loss. On loopback nothing confirms it (no loss,
// no longer round trip), so the cap is then lifted again.
func TestViewerStepsDownOnAFarLowerREMB(t *testing.T) {
	checkLeaks(t)
	logs := &trialLog{}
	cfg := Config{Addr: "127.0.0.1:0"}
	cfg.SFU.FastEgress, cfg.SFU.PionReadPath = fastEgress, pionReads()
	cfg.SFU.Loopback, cfg.SFU.Interfaces = true, []string{"lo"}
	cfg.TLS.StateDir = testStateDir
	m := NewMain(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	base, url := "http://"+m.Addr(), "ws://"+m.Addr()+"/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	pub := publishSimulcast(t, ctx, url)
	defer pub.Close()
	viewer, rec := watchSimulcast(t, ctx, url)
	defer viewer.Close()
	waitLayer(t, ctx, rec, 'f', 30)
	const full = `meetd_subscriber_video_layers{layer="f",target="f"}`
	waitUntil(t, ctx, "the full layer in /metrics", func() bool { return scrape(t, base)[full] == 1 })

	// The REMB falls from far above what meetd sends to far below it,
	// again until meetd has measured what it sends (the layers' bitrates
	// take a couple of seconds); the receiver reports the viewer's pion
	// sends say nothing is lost.
	pkts, _ := rec.since(0)
	ssrc := pkts[len(pkts)-1].SSRC
	step, cancelStep := context.WithTimeout(ctx, 15*time.Second)
	defer cancelStep()
	defer func() {
		if t.Failed() {
			t.Log(logs.line(`msg=REMB`))
		}
	}()
	var lowered string
	waitUntil(t, step, "the viewer's layer capped to the smallest on the REMB alone", func() bool {
		if lowered = logs.line(`msg="layer cap lowered"`, "cap=0"); lowered != "" {
			return true
		}
		for _, b := range []float32{50e6, 1000} {
			if err := viewer.SendRTCP(&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: b, SSRCs: []uint32{ssrc}}); err != nil {
				t.Fatal(err)
			}
		}
		return false
	})
	t.Logf("at once: %s", lowered)
	waitUntil(t, ctx, "the trial to end", func() bool {
		return logs.line(`msg="REMB trial released"`) != "" || logs.line(`msg="REMB trial confirmed"`) != ""
	})
	if l := logs.line(`msg="REMB trial confirmed"`); l != "" {
		t.Skipf("a busy machine's round trip confirmed the trial: %s", l)
	}
	waitUntil(t, ctx, "the full layer back in /metrics after the trial", func() bool { return scrape(t, base)[full] == 1 })
}
