package main

// A viewer behind a link that gets throttled: meetd's bandwidth estimate
// for it falls, its simulcast layer with it, and climbs back once the
// limit is lifted.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	msg "github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// recordJob is what a recorder helper does: watch the default broadcast
// for Duration and report every video packet.
type recordJob struct {
	URL      string
	Network  testclient.Network
	Duration time.Duration
}

// arrival is one video packet a recorder got: when (unix milliseconds),
// its sequence number and the layer marker of its payload.
type arrival struct {
	At     int64
	Seq    uint16
	Marker byte
}

type recordResult struct {
	Packets []arrival
	Err     string
}

// helperRecorder watches the default broadcast, says READY at the first
// video packet and FULL once it has fullRun packets of the full layer in a
// row, and reports what it got after the job's duration.
func helperRecorder() error {
	var job recordJob
	if err := json.Unmarshal([]byte(os.Getenv(helperArgs)), &job); err != nil {
		return err
	}
	var (
		mu    sync.Mutex
		res   recordResult
		ready = make(chan struct{})
		once  sync.Once
		full  sync.Once
	)
	onTrack := func(remote *webrtc.TrackRemote) {
		for {
			p, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			if remote.Kind() != webrtc.RTPCodecTypeVideo {
				continue
			}
			a := arrival{At: time.Now().UnixMilli(), Seq: p.SequenceNumber}
			if len(p.Payload) > testclient.SimulcastMarkerAt {
				a.Marker = p.Payload[testclient.SimulcastMarkerAt]
			}
			mu.Lock()
			res.Packets = append(res.Packets, a)
			onFull := layerRun(res.Packets, 'f', fullRun, 0) >= 0
			mu.Unlock()
			once.Do(func() { close(ready) })
			if onFull {
				full.Do(func() { fmt.Println("FULL") })
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), job.Duration+20*time.Second)
	defer cancel()
	err := func() error {
		c, err := testclient.Dial(ctx, job.URL, testclient.Options{Network: job.Network, OnTrack: onTrack})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Join(ctx, "default", msg.RoleAudience); err != nil {
			return err
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return fmt.Errorf("no video: %w", ctx.Err())
		}
		fmt.Println("READY")
		time.Sleep(job.Duration)
		return nil
	}()
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		res.Err = err.Error()
	}
	out, _ := json.Marshal(res)
	fmt.Println("RESULT", string(out))
	return nil
}

// layerRun finds the first run of n packets in a row of layer m that
// starts at or after from (unix milliseconds), and returns when it
// started; -1 when there is none.
func layerRun(pkts []arrival, m byte, n int, from int64) int64 {
	run, start := 0, int64(-1)
	for _, p := range pkts {
		if p.At < from {
			continue
		}
		if p.Marker != m {
			run = 0
			continue
		}
		if run == 0 {
			start = p.At
		}
		if run++; run >= n {
			return start
		}
	}
	return -1
}

// missing counts the sequence numbers never received between the first
// and the last packet that arrived in [from, to).
func missing(pkts []arrival, from, to int64) int { return missingOutside(pkts, from, to, nil) }

// arrivedIn is the sequence numbers of the packets that arrived in
// [from, to), with the lowest and the highest of them.
func arrivedIn(pkts []arrival, from, to int64) (seen map[uint16]bool, first, last uint16) {
	seen = map[uint16]bool{}
	for _, p := range pkts {
		if p.At < from || p.At >= to {
			continue
		}
		if len(seen) == 0 || int16(p.Seq-first) < 0 {
			first = p.Seq
		}
		if len(seen) == 0 || int16(p.Seq-last) > 0 {
			last = p.Seq
		}
		seen[p.Seq] = true
	}
	return seen, first, last
}

// probeSettle is how long after a probe's last padding packet its
// losses may still show: the queue drains, retransmissions come.
const probeSettle = 1500

// probeWindows are the times (unix milliseconds, [from, to)) from the
// first padding-only packet of each probe to probeSettle after its last.
func probeWindows(pkts []arrival) [][2]int64 {
	var w [][2]int64
	for _, p := range pkts {
		if p.Marker != 0 {
			continue
		}
		if n := len(w); n > 0 && p.At <= w[n-1][1] {
			w[n-1][1] = p.At + probeSettle
			continue
		}
		w = append(w, [2]int64{p.At, p.At + probeSettle})
	}
	return w
}

// missingOutside is missing over [from, to), less the sequence numbers
// sent during the windows: those of the packets that arrived in them, and
// those between.
func missingOutside(pkts []arrival, from, to int64, windows [][2]int64) int {
	type span struct{ lo, hi uint16 }
	var probed []span
	for _, w := range windows {
		if in, lo, hi := arrivedIn(pkts, w[0], w[1]); len(in) > 0 {
			probed = append(probed, span{lo, hi})
		}
	}
	seen, first, last := arrivedIn(pkts, from, to)
	n := 0
	for q := first; len(seen) > 0 && int16(q-last) <= 0; q++ {
		if seen[q] {
			continue
		}
		inProbe := false
		for _, sp := range probed {
			if int16(q-sp.lo) >= 0 && int16(q-sp.hi) <= 0 {
				inProbe = true
			}
		}
		if !inProbe {
			n++
		}
	}
	return n
}

// shift is the windows in milliseconds since t0.
func shift(windows [][2]int64, t0 int64) [][2]int64 {
	out := make([][2]int64, len(windows))
	for i, w := range windows {
		out[i] = [2]int64{w[0] - t0, w[1] - t0}
	}
	return out
}

// fullRun is how many packets of a layer in a row show a viewer is on it.
const fullRun = 30

// climbLimit bounds how long after the throttle is lifted the viewer may
// take to be back on the full layer: 8 to 14 s were seen on a 2-core
// machine (the estimate grows 15% a second, one layer up at a time, each
// waiting for a keyframe). The recording goes on past it.
const climbLimit = 20 * time.Second

func TestThrottledViewerFallsAndClimbsBack(t *testing.T) {
	n := needNetns(t)
	needTool(t, "tc", "Debian: apt-get install iproute2")
	server, home := n.add("bsrv"), n.add("bhome")
	n.link(server, "b0", "10.232.0.1/24", home, "b1", "10.232.0.2/24")
	args, _ := json.Marshal([]string{"-addr", ":18090", "-ice-loopback", "-state-dir", t.TempDir(), "-log-level", "debug"})
	n.helper(server, "meetd", string(args), "READY")
	n.helper(server, "simulcaster", "ws://127.0.0.1:18090/ws", "READY")
	const total = 35 * time.Second
	job, _ := json.Marshal(recordJob{URL: "ws://10.232.0.1:18090/ws", Network: testclient.Network{AllInterfaces: true}, Duration: total})
	lines, _ := n.helper(home, "recorder", string(job), "READY")
	ends := time.Now().Add(total)

	// The viewer's downlink is what leaves meetd's end of the link.
	waitLine(t, lines, "FULL", 20*time.Second, func(line string) bool { return line == "FULL" })
	link := n.prefix + "b0"
	throttled := time.Now().UnixMilli()
	n.in(server, "tc", "qdisc", "add", "dev", link, "root", "tbf", "rate", "400kbit", "burst", "16kbit", "latency", "100ms")
	throttle := true
	defer func() {
		if throttle {
			n.in(server, "tc", "qdisc", "del", "dev", link, "root")
		}
	}()
	time.Sleep(8 * time.Second)
	lifted := time.Now().UnixMilli()
	n.in(server, "tc", "qdisc", "del", "dev", link, "root")
	throttle = false

	if end := time.Now().Add(climbLimit); end.After(ends) {
		t.Fatalf("the recording ends %v before the climb's limit", end.Sub(ends))
	}
	var res *recordResult
	for line := range lines {
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				t.Fatal(err)
			}
		}
	}
	if res == nil {
		t.Fatal("the recorder gave no result; MEETD_TEST_LOG=1 shows why")
	}
	if res.Err != "" {
		t.Fatalf("recorder: %s", res.Err)
	}
	pkts := res.Packets
	if len(pkts) == 0 || layerRun(pkts, 'f', fullRun, 0) < 0 || layerRun(pkts, 'f', fullRun, 0) > throttled {
		t.Fatalf("the viewer did not get the full layer before the throttle")
	}
	fell := layerRun(pkts, 'q', 30, throttled)
	switch {
	case fell < 0 || fell > lifted:
		t.Errorf("the throttled viewer never fell to the quarter layer")
	case fell-throttled > 6000:
		t.Errorf("the throttled viewer fell to the quarter layer only after %d ms", fell-throttled)
	default:
		t.Logf("fell to the quarter layer %d ms after the throttle", fell-throttled)
	}
	climbed := layerRun(pkts, 'f', fullRun, lifted)
	switch {
	case climbed < 0:
		t.Errorf("the viewer never climbed back to the full layer after the limit was lifted")
	case climbed-lifted > climbLimit.Milliseconds():
		t.Errorf("the viewer climbed back to the full layer only %d ms after the limit was lifted, want within %v",
			climbed-lifted, climbLimit)
	default:
		t.Logf("back on the full layer %d ms after the limit was lifted", climbed-lifted)
	}
	// No freeze: video keeps arriving throughout.
	for i := 1; i < len(pkts); i++ {
		if gap := pkts[i].At - pkts[i-1].At; gap > 500 {
			t.Errorf("no video for %d ms at %d ms after the throttle", gap, pkts[i-1].At-throttled)
		}
	}
	// Nothing lost once on the layer that fits, nor once back up, but
	// while meetd probes the link with padding (which the throttle
	// drops: that is how the probe fails) and until the retransmissions
	// after it are in.
	probes := probeWindows(pkts)
	if fell > 0 {
		if m := missingOutside(pkts, fell, lifted, probes); m > 0 {
			t.Errorf("%d packets missing while on the quarter layer under the limit, probes aside", m)
		}
		t.Logf("probes (ms since the throttle): %v; %d packets missing under the limit in all", shift(probes, throttled),
			missing(pkts, fell, lifted))
	}
	if climbed > 0 {
		if m := missing(pkts, climbed, pkts[len(pkts)-1].At+1); m > 0 {
			t.Errorf("%d packets missing after climbing back", m)
		}
	}
	layers := map[byte]int{}
	var switches []string
	for i, p := range pkts {
		layers[p.Marker]++
		if i == 0 || p.Marker != pkts[i-1].Marker {
			switches = append(switches, fmt.Sprintf("%c@%d", p.Marker, p.At-throttled))
		}
	}
	t.Logf("layers by time since the throttle (ms): %s", strings.Join(switches, " "))
	t.Logf("%d video packets by layer %v; %d missing in all", len(pkts), layers, missing(pkts, 0, pkts[len(pkts)-1].At+1))
}
