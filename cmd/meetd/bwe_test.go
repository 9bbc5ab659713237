package main

import (
	"context"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// wantLayerStopped waits until meetd receives no more packets of layer
// paused while it receives 30 of layer running (a second of them). The
// first such stretch may still see packets the publisher sent before it
// paused; after three, the layer is not paused.
func wantLayerStopped(t *testing.T, ctx context.Context, tr *sfu.Track, paused, running string) {
	t.Helper()
	for range 3 {
		before := tr.LayerPackets()
		waitUntil(t, ctx, "packets of layer "+running, func() bool { return tr.LayerPackets()[running] >= before[running]+30 })
		if tr.LayerPackets()[paused] == before[paused] {
			return
		}
	}
	t.Errorf("meetd still receives the paused layer %s: %v", paused, tr.LayerPackets())
}

func TestSimulcastPausesUnwatchedLayers(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	pub := publishSimulcast(t, ctx, url)
	defer pub.Close()
	viewer, rec := watchSimulcast(t, ctx, url)
	defer viewer.Close()
	stream := pub.ID() + "_" + testclient.CameraStream
	waitLayer(t, ctx, rec, 'f', 30)
	cam := cameraTrack(t, m, "cams")

	// A small tile: the half and full layers are not needed, and paused.
	if err := viewer.SendView(stream, 320, 180, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, rec, 'q', 30)
	if err := pub.WaitLayers(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	wantLayerStopped(t, ctx, cam, "f", "q")

	// A big tile: the full layer resumes and the viewer switches up to it.
	if err := viewer.SendView(stream, 1280, 720, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitLayers(ctx, "q", "f"); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, rec, 'f', 30)
	full := cam.LayerPackets()["f"]
	waitUntil(t, ctx, "packets of the resumed full layer", func() bool { return cam.LayerPackets()["f"] >= full+40 })

	// Hidden: nothing is needed; then shown again.
	hiding := time.Now()
	shown, _ := rec.count()
	if err := viewer.SendView(stream, 0, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitLayers(ctx); err != nil {
		t.Fatal(err)
	}
	if err := viewer.SendView(stream, 640, 360, ""); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitLayers(ctx, "q", "h"); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, rec, 'h', 30)
	hidden := time.Since(hiding)

	// One stream throughout; its timestamps jump over the hidden time
	// (the packets on their way when it was hidden count as after it).
	all, _ := rec.since(0)
	checkContinuous(t, all[:shown], 2*time.Second)
	checkContinuous(t, all[shown:], hidden)
	if a, b := all[shown-1].SequenceNumber, all[shown].SequenceNumber; b != a+1 {
		t.Errorf("sequence number %d after %d, once shown again", b, a)
	}
	t.Logf("layers messages: %v", pub.Layers())
}

// A camera nobody watches is paused altogether; the first viewer gets it
// resumed.
func TestSimulcastResumesForFirstViewer(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := publishSimulcast(t, ctx, url)
	defer pub.Close()
	if err := pub.WaitLayers(ctx); err != nil {
		t.Fatal(err)
	}
	viewer, rec := watchSimulcast(t, ctx, url)
	defer viewer.Close()
	waitLayer(t, ctx, rec, 'f', 30)
	t.Logf("layers messages: %v", pub.Layers())
}
