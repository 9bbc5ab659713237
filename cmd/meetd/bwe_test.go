package main

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// cameraTrack finds the simulcast camera published in a broadcast.
func cameraTrack(t *testing.T, m *Main, name string) *sfu.Track {
	t.Helper()
	r := m.rooms.Get(room.Broadcast, name)
	if r == nil {
		t.Fatalf("no broadcast %q", name)
	}
	for _, p := range r.Snapshot().Tracks {
		if p.Track.Kind() == webrtc.RTPCodecTypeVideo {
			return p.Track
		}
	}
	t.Fatalf("no video in %q", name)
	return nil
}

// layerRate counts the packets meetd receives of layer rid in d.
func layerRate(tr *sfu.Track, rid string, d time.Duration) uint64 {
	n0 := tr.LayerPackets()[rid]
	time.Sleep(d)
	return tr.LayerPackets()[rid] - n0
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
	time.Sleep(300 * time.Millisecond) // packets in flight
	if n := layerRate(cam, "f", time.Second); n > 0 {
		t.Errorf("meetd got %d packets of the paused full layer in a second", n)
	}
	if n := layerRate(cam, "q", time.Second); n < 20 {
		t.Errorf("meetd got %d packets of the quarter layer in a second", n)
	}

	// A big tile: the full layer resumes and the viewer switches up to it.
	if err := viewer.SendView(stream, 1280, 720, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitLayers(ctx, "q", "f"); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, rec, 'f', 30)
	if n := layerRate(cam, "f", time.Second); n < 40 {
		t.Errorf("meetd got %d packets of the resumed full layer in a second", n)
	}

	// Hidden: nothing is needed; then shown again.
	time.Sleep(300 * time.Millisecond)
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
	if err := pub.WaitLayers(ctx, "h"); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, rec, 'h', 30)

	// One stream throughout; its timestamps jump over the hidden time.
	all, _ := rec.since(0)
	checkContinuous(t, all[:shown])
	checkContinuous(t, all[shown:])
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
