package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// publishLate dials a simulcast publisher on the stage of broadcast "cams"
// whose full layer ('f', the third) stays off until start is closed.
func publishLate(t *testing.T, ctx context.Context, url string, start <-chan struct{}) *testclient.Client {
	t.Helper()
	pub := dial(t, ctx, url, testclient.Options{Simulcast: true, SimulcastMedia: testclient.SimulcastLate(2, start)})
	join(t, ctx, pub, "cams", signal.RoleStage)
	if err := pub.Publish(ctx); err != nil {
		pub.Close()
		t.Fatal(err)
	}
	return pub
}

// logLayersOnFailure logs, if t fails, the layers messages pub got and
// what meetd received of each layer of cam.
func logLayersOnFailure(t *testing.T, pub *testclient.Client, cam *sfu.Track) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("layers messages: %v", pub.Layers())
			t.Logf("packets meetd received by layer: %v", cam.LayerPackets())
		}
	})
}

// A layer the publisher starts only after meetd's first layers message
// (as Firefox may, on a busy machine) must not be paused by that message:
// a viewer that needs it later gets it.
func TestSimulcastLateLayerReachesViewer(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	start := make(chan struct{})
	pub := publishLate(t, ctx, url, start)
	defer pub.Close()
	viewer, rec := watchSimulcast(t, ctx, url)
	defer viewer.Close()
	stream := pub.ID() + "_" + testclient.CameraStream

	// A small tile takes the quarter layer; meetd pauses the half one,
	// the first layers message, while the full layer has not come yet.
	if err := viewer.SendView(stream, 320, 180, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, rec, 'q', 30)
	logLayersOnFailure(t, pub, cameraTrack(t, m, "cams"))
	waitUntil(t, ctx, "meetd to pause the half layer", func() bool {
		ls := pub.Layers()
		return len(ls) > 0 && !slices.Contains(ls[len(ls)-1], "h")
	})
	if ls := pub.Layers(); !slices.Contains(ls[len(ls)-1], "f") {
		t.Errorf("meetd's layers message %v leaves out the full layer, which it has not received yet", ls[len(ls)-1])
	}

	// Now the full layer starts, and a large tile needs it.
	close(start)
	if err := viewer.SendView(stream, 1280, 720, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, rec, 'f', 30)
}

// A negotiated layer that never came (its publisher keeps it back until
// asked) is asked for while viewers watch, even when no layer is paused
// and so nothing changed.
func TestSimulcastMissingLayerAskedFor(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	start := make(chan struct{})
	pub := publishLate(t, ctx, url, start)
	defer pub.Close()
	stream := pub.ID() + "_" + testclient.CameraStream
	// One viewer takes the quarter layer, one the largest there is: no
	// layer is idle, so none is paused.
	small, smallRec := watchSimulcast(t, ctx, url)
	defer small.Close()
	if err := small.SendView(stream, 320, 180, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	large, largeRec := watchSimulcast(t, ctx, url)
	defer large.Close()
	waitLayer(t, ctx, smallRec, 'q', 30)
	waitLayer(t, ctx, largeRec, 'h', 30)
	logLayersOnFailure(t, pub, cameraTrack(t, m, "cams"))

	waitUntil(t, ctx, "meetd to ask for the full layer", func() bool {
		return slices.ContainsFunc(pub.Layers(), func(active []string) bool { return slices.Contains(active, "f") })
	})
	close(start)
	waitLayer(t, ctx, largeRec, 'f', 30)
}
