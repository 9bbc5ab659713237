package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// arrivalOrder is what a viewer got, in the order it arrived: video
// packets, and the sequence numbers of audio.
type arrivalOrder struct {
	received
	mu    sync.Mutex
	audio []uint16
}

func (a *arrivalOrder) onTrack(remote *webrtc.TrackRemote) {
	if remote.Kind() == webrtc.RTPCodecTypeVideo {
		a.received.onTrack(remote)
		return
	}
	for {
		p, _, err := remote.ReadRTP()
		if err != nil {
			return
		}
		a.mu.Lock()
		a.audio = append(a.audio, p.SequenceNumber)
		a.mu.Unlock()
		a.received.mu.Lock()
		a.received.audio++
		a.received.mu.Unlock()
	}
}

// inOrder fails unless each packet's sequence number follows the one that
// arrived before it: nothing missing, nothing behind.
func inOrder(t *testing.T, what string, seqs []uint16) {
	t.Helper()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Errorf("%s: sequence number %d arrived after %d (packet %d of %d)", what, seqs[i], seqs[i-1], i, len(seqs))
			return
		}
	}
}

// switchesAtKeyframes fails unless the video starts, and moves to another
// simulcast layer, only at the first packet of a keyframe.
func switchesAtKeyframes(t *testing.T, what string, pkts []rtp.Packet) int {
	t.Helper()
	switches := 0
	for i, p := range pkts {
		if i > 0 && marker(p) == marker(pkts[i-1]) {
			continue
		}
		if i > 0 {
			switches++
		}
		if !testclient.IsVP8Keyframe(p.Payload) {
			t.Errorf("%s: layer %c starts at packet %d (sequence number %d), not at a keyframe", what, marker(p), i, p.SequenceNumber)
		}
	}
	return switches
}

// TestShardedFanOut runs a broadcast whose fan-out is split over shards
// from two viewers on (-fanout-shard 1): every viewer gets every packet
// of the audio and of the simulcast video in order, viewers who show the
// video small switch layers at a keyframe, and a viewer who leaves
// mid-stream (moving the others between shards) costs the others
// nothing.
func TestShardedFanOut(t *testing.T) {
	checkLeaks(t)
	// Up to four shards, whatever the machine: shards are bounded by
	// GOMAXPROCS, read at each fan-out.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(4, runtime.GOMAXPROCS(0))))
	m := runMeetd(t, Config{SFU: sfu.Config{FanOutShard: 1}})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	pub := publishSimulcast(t, ctx, url)
	defer pub.Close()
	stream := pub.ID() + "_" + testclient.CameraStream
	const n = 6
	viewers := make([]*testclient.Client, n)
	recs := make([]*arrivalOrder, n)
	for i := range viewers {
		recs[i] = &arrivalOrder{}
		viewers[i] = dial(t, ctx, url, testclient.Options{OnTrack: recs[i].onTrack})
		defer viewers[i].Close()
		join(t, ctx, viewers[i], "cams", signal.RoleAudience)
	}
	for _, r := range recs {
		waitLayer(t, ctx, &r.received, 'f', 30)
	}
	waitUntil(t, ctx, "a sharded fan-out", func() bool { return m.api.Counters().Snapshot().ShardedFanOuts > 0 })

	// Two viewers show the video small: the quarter layer, from a keyframe.
	for _, v := range viewers[:2] {
		if err := v.SendView(stream, 320, 180, signal.QualityAuto); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range recs[:2] {
		waitLayer(t, ctx, &r.received, 'q', 30)
	}

	// One leaves mid-stream; the others go on.
	viewers[n-1].Close()
	more := func(what string, video, audio int) {
		t.Helper()
		counts := make([][2]int, n-1)
		for i, r := range recs[:n-1] {
			counts[i][0], counts[i][1] = r.count()
		}
		for i, r := range recs[:n-1] {
			waitUntil(t, ctx, fmt.Sprintf("viewer %d: %s", i, what), func() bool {
				v, a := r.count()
				return v >= counts[i][0]+video && a >= counts[i][1]+audio
			})
		}
	}
	more("video and audio after a viewer left", 90, 50)

	for i, r := range recs[:n-1] {
		what := fmt.Sprintf("viewer %d", i)
		pkts, _ := r.since(0)
		seqs := make([]uint16, len(pkts))
		for j, p := range pkts {
			seqs[j] = p.SequenceNumber
		}
		inOrder(t, what+" video", seqs)
		checkContinuous(t, pkts, 0)
		switches := switchesAtKeyframes(t, what, pkts)
		if want := map[bool]int{true: 1, false: 0}[i < 2]; switches != want {
			t.Errorf("%s switched layers %d times, want %d", what, switches, want)
		}
		r.mu.Lock()
		inOrder(t, what+" audio", r.audio)
		r.mu.Unlock()
	}
	if c := m.api.Counters().Snapshot(); t.Failed() {
		t.Logf("sharded fan-outs %d, forwarded %v", c.ShardedFanOuts, c.Forwarded)
	}
}

// TestFanOutShardFlag: -fanout-shard (MEETD_FANOUT_SHARD) sets the
// fewest viewers per shard; 0 turns sharding off, which sfu.Config says
// with a negative number (its zero is the default).
func TestFanOutShardFlag(t *testing.T) {
	none := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		env  string
		want int
	}{
		{nil, "", sfu.DefaultFanOutShard},
		{[]string{"-fanout-shard", "100"}, "", 100},
		{nil, "300", 300},
		{[]string{"-fanout-shard", "0"}, "", -1},
		{nil, "0", -1},
	} {
		getenv := func(k string) string { return map[string]string{"MEETD_FANOUT_SHARD": c.env}[k] }
		cfg, err := ParseConfig(c.args, getenv, io.Discard)
		if err != nil || cfg.SFU.FanOutShard != c.want {
			t.Errorf("%v, MEETD_FANOUT_SHARD=%q: %d (%v), want %d", c.args, c.env, cfg.SFU.FanOutShard, err, c.want)
		}
	}
	if _, err := ParseConfig([]string{"-fanout-shard", "-5"}, none, io.Discard); err == nil {
		t.Error("-fanout-shard -5 accepted")
	}
}
