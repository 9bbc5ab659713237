package main

import (
	"context"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// TestLightViewerCountsWhatArrives watches one broadcast of a real meetd
// with a full viewer (pion all along) and two light viewers (pion for the
// handshake only) over the same 12 s window: the light viewers count as
// many packets as the full one, of the same sizes, none lost, decrypt
// their samples, and keep meetd's ICE up by answering its checks (meetd
// gives a path up after 8 s without answers).
func TestLightViewerCountsWhatArrives(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs meetd")
	}
	bin := filepath.Join(t.TempDir(), "meetd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/meetd/meetd/cmd/meetd").CombinedOutput(); err != nil {
		t.Fatalf("building meetd: %v\n%s", err, out)
	}
	srv, err := startServer(bin, nil, -1, false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	cfg := &config{quiet: true}
	full := &run{cfg: cfg, wl: workload{kind: "w1", n: 1}, srv: srv}
	light := &run{cfg: cfg, wl: workload{kind: "w1light", n: 2}, srv: srv}
	for _, r := range []*run{full, light} {
		r.w.arrivals = new(arrivals)
		if r.api, err = clientAPI(r.w.arrivals); err != nil {
			t.Fatal(err)
		}
		defer r.closeAll()
	}
	if light.light, err = newLightReaders(1, 2*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	defer light.light.close()

	const room = "light"
	pub, err := testclient.Dial(ctx, srv.url, testclient.Options{API: full.api, Media: syntheticMedia})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := joinOrRefused(ctx, pub, signal.KindBroadcast, room, signal.RoleStage); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	fv, err := full.addSubscriber(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	var lvs []*subscriber
	for i := range 2 {
		s, err := light.addLightSubscriber(ctx, room, i, light.light)
		if err != nil {
			t.Fatal(err)
		}
		lvs = append(lvs, s)
	}
	if err := full.waitVideo(ctx, []*subscriber{fv}, 1); err != nil {
		t.Fatal(err)
	}
	if err := light.waitVideo(ctx, lvs, 1); err != nil {
		t.Fatal(err)
	}
	// Past the next keyframe, so that every viewer is in the stream.
	time.Sleep(3 * time.Second)
	full.w.measuring.Store(true)
	light.w.measuring.Store(true)
	time.Sleep(12 * time.Second)
	full.w.measuring.Store(false)
	light.w.measuring.Store(false)

	f, l := full.w.packets.Load(), light.w.packets.Load()/2
	t.Logf("full viewer %d packets, light viewers %d each; mean sizes %.1f and %.1f bytes",
		f, l, meanSize(full.w.mix()), meanSize(light.w.mix()))
	if f < 2000 || math.Abs(float64(l)-float64(f)) > 0.02*float64(f) {
		t.Errorf("the light viewers counted %d packets each, the full viewer %d", l, f)
	}
	if d := meanSize(light.w.mix()) - meanSize(full.w.mix()); math.Abs(d) > 5 {
		t.Errorf("the light viewers' packets are %.1f bytes larger on average than the full viewer's", d)
	}
	if full.w.lost.Load() != 0 || light.w.lost.Load() != 0 {
		t.Errorf("lost: full viewer %d, light viewers %d", full.w.lost.Load(), light.w.lost.Load())
	}
	if n := light.w.readLatency.count(); n == 0 {
		t.Error("no sampled packet of the light viewers decrypted with a send stamp")
	}
	if err := light.lightChecks(lvs); err != nil {
		t.Error(err)
	}
}
