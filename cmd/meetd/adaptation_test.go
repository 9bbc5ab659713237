package main

import (
	"context"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// TestMetricsOfAdaptation: /metrics counts the simulcast videos forwarded
// to subscribers by the layer they get and the one they should, and has
// the histogram of subscribers' estimates; a viewer that shows the camera
// small moves from the full layer's series to the quarter layer's.
func TestMetricsOfAdaptation(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	base := "http://" + m.Addr()
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	pub := publishSimulcast(t, ctx, url)
	defer pub.Close()
	viewer, rec := watchSimulcast(t, ctx, url)
	defer viewer.Close()
	waitLayer(t, ctx, rec, 'f', 30)
	const full, quarter = `meetd_subscriber_video_layers{layer="f",target="f"}`, `meetd_subscriber_video_layers{layer="q",target="q"}`
	var got map[string]float64
	waitUntil(t, ctx, "one video on the full layer in /metrics", func() bool {
		got = scrape(t, base)
		return got[full] == 1
	})
	if _, ok := got["meetd_subscriber_estimate_bits_count"]; !ok {
		t.Error("/metrics has no meetd_subscriber_estimate_bits histogram")
	}

	if err := viewer.SendView(pub.ID()+"_"+testclient.CameraStream, 320, 180, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, rec, 'q', 30)
	waitUntil(t, ctx, "the video on the quarter layer in /metrics", func() bool {
		got = scrape(t, base)
		return got[quarter] == 1 && got[full] == 0
	})
}
