package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// A simulcast camera on node A, two viewers on node B who show it at
// different sizes: each gets its own layer through the node link; the
// full layer, which nobody wants, stops crossing and the publisher is
// told to pause it; a viewer on B who asks for it again gets it back,
// with the publisher told to send it. The origin pauses the layer as
// soon as the edge's wish arrives, not after a pause delay of its own on
// top of the edge's.
func TestClusterSimulcastLayersPerEdge(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, natsURL := startNATS(t)
	a, urlA := runNode(t, natsURL)
	b, urlB := runNode(t, natsURL)
	waitNodes(t, ctx, a, b)
	fReleased := edgeReleases(t, natsURL, "f")

	pub := publishSimulcast(t, ctx, urlA)
	defer pub.Close()
	stream := pub.ID() + "_" + testclient.CameraStream
	small, recSmall := watchSimulcast(t, ctx, urlB)
	defer small.Close()
	medium, recMedium := watchSimulcast(t, ctx, urlB)
	defer medium.Close()

	// Every layer crosses until the edge knows what its viewers want: a
	// link track each, counted as a relayed track each (and the audio).
	waitUntil(t, ctx, "the three layers and the audio on the link", func() bool {
		return a.cluster.Stats().TracksOut == 4 && b.cluster.Stats().TracksIn == 4
	})
	for _, v := range []*received{recSmall, recMedium} {
		waitUntil(t, ctx, "video on node B", func() bool {
			n, _ := v.count()
			return n > 0
		})
	}
	viewsSent := time.Now()
	if err := small.SendView(stream, 320, 180, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	if err := medium.SendView(stream, 640, 360, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	from := waitLayer(t, ctx, recSmall, 'q', 30)
	waitLayer(t, ctx, recMedium, 'h', 30)
	edgeCamera := cameraTrack(t, b, "cams")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("packets node B received by layer: %v; the publisher was told %v", edgeCamera.LayerPackets(), pub.Layers())
		}
	})

	// Nobody wants the full layer, on either node: the edge stops taking
	// it, and then the origin tells the publisher to pause it.
	if err := pub.WaitLayers(ctx, "q", "h"); err != nil {
		t.Fatal(err)
	}
	told := time.Now()
	select {
	case released := <-fReleased:
		// The edge waited the pause rule's 3 s before its wish; the origin
		// used to wait 3 s more from it (6 s in all, where one node takes
		// 3 s). The bound is that 3 s, the origin's own timer, not a speed.
		t.Logf("f paused at the publisher %v after the views changed, %v after the edge's wish",
			told.Sub(viewsSent).Round(time.Millisecond), told.Sub(released).Round(time.Millisecond))
		if d := told.Sub(released); d >= originPauseAfter {
			t.Errorf("the publisher was told to pause f %v after the edge released it: the origin waited its own %v again", d, originPauseAfter)
		}
	case <-ctx.Done():
		t.Fatal("the publisher was told to pause f, but no edge's wish released it")
	}
	f := edgeCamera.LayerPackets()["f"]
	n, _ := recSmall.count()
	waitUntil(t, ctx, "60 more packets for the small tile", func() bool {
		m, _ := recSmall.count()
		return m >= n+60
	})
	if now := edgeCamera.LayerPackets()["f"]; now != f {
		t.Errorf("the paused full layer still crosses the link: %d packets more", now-f)
	}

	// A viewer on B shows it large: the full layer comes back, from the
	// publisher through the link, and the small tile keeps its layer.
	if err := medium.SendView(stream, 1280, 720, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitLayers(ctx, "q", "h", "f"); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, recMedium, 'f', 30)
	after, _ := recSmall.since(from)
	for _, p := range after {
		if m := marker(p); m != 'q' {
			t.Fatalf("the viewer of a 320×180 tile on node B got a packet of layer %c", m)
		}
	}
	all, _ := recMedium.since(0)
	checkContinuous(t, all, 0)

	// A viewer who comes later on B asks for a keyframe of the layer it
	// gets: it crosses the link and reaches the publisher, and the
	// viewer's video starts with one.
	asked := pub.KeyframeRequests()
	late, recLate := watchSimulcast(t, ctx, urlB)
	defer late.Close()
	waitUntil(t, ctx, "the late viewer's keyframe request to reach the publisher", func() bool {
		return pub.KeyframeRequests() > asked
	})
	waitLayer(t, ctx, recLate, 'f', 30)
	if first, _ := recLate.since(0); !vp8Keyframe(first[0].Payload) {
		t.Errorf("the late viewer's video did not start with a keyframe")
	}
}

// vp8Keyframe reports whether a payload of the simulcast test publisher
// starts a keyframe.
func vp8Keyframe(p []byte) bool {
	const descriptor = 5 // X, I with a 15-bit picture id, L
	return len(p) > descriptor && p[0]&0x10 != 0 && p[descriptor]&0x01 == 0
}

// originPauseAfter is how long a node waits before it pauses a layer none
// of its own down tracks needs (sfu's pause rule).
const originPauseAfter = 3 * time.Second

// edgeReleases listens on NATS for edges' wishes of layers, as an origin
// does, and returns a channel that gets the time of the first wish that
// pauses rid.
func edgeReleases(t *testing.T, natsURL, rid string) <-chan time.Time {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	released := make(chan time.Time, 1)
	if _, err := nc.Subscribe("meetd.layers.>", func(m *nats.Msg) {
		at := time.Now()
		var w struct{ Paused []string }
		if json.Unmarshal(m.Data, &w) == nil && slices.Contains(w.Paused, rid) {
			select {
			case released <- at:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return released
}
