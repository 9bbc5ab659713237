package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// received is what a viewer got of a simulcast camera, in arrival order.
type received struct {
	mu    sync.Mutex
	video []rtp.Packet
	audio int
	// padding keeps padding-only packets (a probe's), which are
	// otherwise left out as a browser leaves them out of the video.
	padding bool
}

func (r *received) onTrack(remote *webrtc.TrackRemote) {
	for {
		p, _, err := remote.ReadRTP()
		if err != nil {
			return
		}
		if len(p.Payload) == 0 && !r.padding {
			continue
		}
		r.mu.Lock()
		if remote.Kind() == webrtc.RTPCodecTypeAudio {
			r.audio++
		} else {
			p.Payload = append([]byte(nil), p.Payload...)
			r.video = append(r.video, *p)
		}
		r.mu.Unlock()
	}
}

// since returns the video packets from the nth on, and the audio count.
func (r *received) since(n int) ([]rtp.Packet, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rtp.Packet(nil), r.video[min(n, len(r.video)):]...), r.audio
}

func (r *received) count() (video, audio int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.video), r.audio
}

func marker(p rtp.Packet) byte {
	if len(p.Payload) <= testclient.SimulcastMarkerAt {
		return 0
	}
	return p.Payload[testclient.SimulcastMarkerAt]
}

// cameraTrack finds the simulcast camera published in a broadcast.
func cameraTrack(t *testing.T, m *Main, name string) *sfu.Track {
	t.Helper()
	r := m.rooms.Get(room.Broadcast, name)
	if r == nil {
		t.Fatalf("no broadcast %q", name)
	}
	for _, p := range r.Snapshot().Tracks {
		if p.Track.Kind() == webrtc.RTPCodecTypeVideo {
			return p.Track.(*sfu.Track)
		}
	}
	t.Fatalf("no video in %q", name)
	return nil
}

// publishSimulcast dials a publisher of a simulcast camera on the stage
// of broadcast "cams".
func publishSimulcast(t *testing.T, ctx context.Context, url string) *testclient.Client {
	t.Helper()
	pub := dial(t, ctx, url, testclient.Options{Simulcast: true})
	join(t, ctx, pub, "cams", signal.RoleStage)
	if err := pub.Publish(ctx); err != nil {
		pub.Close()
		t.Fatal(err)
	}
	return pub
}

// watchSimulcast dials a viewer of broadcast "cams" that records what it
// receives.
func watchSimulcast(t *testing.T, ctx context.Context, url string) (*testclient.Client, *received) {
	t.Helper()
	rec := &received{}
	viewer := dial(t, ctx, url, testclient.Options{OnTrack: rec.onTrack})
	join(t, ctx, viewer, "cams", signal.RoleAudience)
	return viewer, rec
}

// waitLayer waits until the viewer gets n packets in a row of the layer
// marked m, and returns how many packets it had then.
func waitLayer(t *testing.T, ctx context.Context, r *received, m byte, n int) int {
	t.Helper()
	var got []rtp.Packet
	defer func() {
		if t.Failed() && len(got) > 0 {
			t.Logf("last layer %c of %d packets", marker(got[len(got)-1]), len(got))
		}
	}()
	waitUntil(t, ctx, fmt.Sprintf("a run of %d packets of layer %c", n, m), func() bool {
		got, _ = r.since(0)
		run := 0
		for _, p := range got {
			if marker(p) == m {
				run++
			} else {
				run = 0
			}
		}
		return run >= n
	})
	return len(got)
}

// checkContinuous fails unless the packets, sorted by arrival, read as one
// stream: every sequence number between the first and the last, timestamps
// that never go back (nor jump further than hidden, the time a tile was
// hidden, and a second), and picture ids that go up by at most one.
func checkContinuous(t *testing.T, pkts []rtp.Packet, hidden time.Duration) {
	t.Helper()
	seen := map[uint16]bool{}
	first := pkts[0].SequenceNumber
	span := 0
	for _, p := range pkts {
		seen[p.SequenceNumber] = true
		if d := int(uint16(p.SequenceNumber - first)); d < 1<<15 && d > span {
			span = d
		}
	}
	for i := 0; i <= span; i++ {
		if !seen[first+uint16(i)] {
			t.Errorf("sequence number %d missing (between %d and %d)", first+uint16(i), first, first+uint16(span))
		}
	}
	var prev *rtp.Packet
	for i := range pkts {
		p := &pkts[i]
		if prev != nil && int16(p.SequenceNumber-prev.SequenceNumber) > 0 {
			if int32(p.Timestamp-prev.Timestamp) < 0 {
				t.Errorf("timestamp went back from %d to %d at sequence number %d", prev.Timestamp, p.Timestamp, p.SequenceNumber)
			}
			if int64(int32(p.Timestamp-prev.Timestamp)) > int64((hidden+time.Second).Seconds()*90000) {
				t.Errorf("timestamp jumped %d ticks at sequence number %d", p.Timestamp-prev.Timestamp, p.SequenceNumber)
			}
			a, _, okA := testclient.VP8Picture(prev.Payload)
			b, _, okB := testclient.VP8Picture(p.Payload)
			if !okA || !okB {
				t.Fatalf("packet %d has no picture id", p.SequenceNumber)
			}
			if d := (b - a) & 0x7fff; d > 1 {
				t.Errorf("picture id jumped from %d to %d at sequence number %d (layers %c to %c)", a, b, p.SequenceNumber, marker(*prev), marker(*p))
			}
		}
		if prev == nil || int16(p.SequenceNumber-prev.SequenceNumber) > 0 {
			prev = p
		}
	}
}

func TestSimulcastLayerFollowsView(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	pub := publishSimulcast(t, ctx, url)
	defer pub.Close()
	viewer, rec := watchSimulcast(t, ctx, url)
	defer viewer.Close()
	stream := pub.ID() + "_" + testclient.CameraStream

	// Until it says how it shows the video, a viewer gets the best layer.
	waitLayer(t, ctx, rec, 'f', 30)
	camera := cameraTrack(t, m, "cams")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("packets meetd received by layer: %v", camera.LayerPackets())
		}
	})

	// A small tile: only the quarter-resolution layer.
	if err := viewer.SendView(stream, 320, 180, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	from := waitLayer(t, ctx, rec, 'q', 30)
	waitUntil(t, ctx, "30 more video packets", func() bool {
		n, _ := rec.count()
		return n >= from+30
	})
	after, _ := rec.since(from)
	for _, p := range after {
		if m := marker(p); m != 'q' {
			t.Fatalf("a viewer of a 320×180 tile got a packet of layer %c", m)
		}
	}

	// A medium tile takes the half-resolution layer, a low quality choice
	// the quarter one again, a large tile the full one.
	for _, step := range []struct {
		w, h    int
		quality string
		want    byte
	}{
		{600, 300, signal.QualityAuto, 'h'},
		{1920, 1080, signal.QualityLow, 'q'},
		{1920, 1080, signal.QualityAuto, 'f'},
	} {
		if err := viewer.SendView(stream, step.w, step.h, step.quality); err != nil {
			t.Fatal(err)
		}
		waitLayer(t, ctx, rec, step.want, 30)
	}

	// A tile off screen gets no video; audio goes on. Once the publisher
	// is told no layer is needed, meetd has stopped sending the viewer
	// video: past what was on its way (half a second of audio), none
	// comes while a second of audio does.
	hiding := time.Now()
	if err := viewer.SendView(stream, 0, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitLayers(ctx); err != nil {
		t.Fatal(err)
	}
	audioAfter := func(n int) {
		t.Helper()
		waitUntil(t, ctx, "the hidden tile's audio", func() bool {
			_, a := rec.count()
			return a >= n
		})
	}
	_, a := rec.count()
	audioAfter(a + 25)
	v0, a0 := rec.count()
	audioAfter(a0 + 50)
	if v1, _ := rec.count(); v1 != v0 {
		t.Errorf("a hidden tile got %d video packets", v1-v0)
	}
	if err := viewer.SendView(stream, 320, 180, ""); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, rec, 'q', 30)
	hidden := time.Since(hiding)

	all, _ := rec.since(0)
	checkContinuous(t, all, hidden)
	layers := map[byte]int{}
	for _, p := range all {
		layers[marker(p)]++
	}
	t.Logf("%d video packets: %s", len(all), fmt.Sprint(layers))
}
