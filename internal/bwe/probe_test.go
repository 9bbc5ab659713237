package bwe

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// padFlow is a camera that pads when told, and says it sent all the
// padding asked for.
type padFlow struct {
	*fakeFlow
	now        *int64
	rate       float64 // bits per second, 0 while not padding
	start      int64
	pads, stop int // Pad calls that started and stopped padding
}

func (f *padFlow) Pad(bps float64, until int64) bool {
	if bps <= 0 {
		if f.rate > 0 {
			f.stop++
		}
		f.rate = 0
		return true
	}
	f.rate, f.start = bps, *f.now
	f.pads++
	return true
}

func (f *padFlow) Padded() uint64 {
	return uint64(f.rate / 8 * float64(*f.now-f.start) / float64(time.Second))
}

// probeSetup is bweSetup with probing: the camera pads.
type probeSetup struct {
	*bweSetup
	cam *padFlow
}

func newProbeSetup(t *testing.T) *probeSetup {
	e := NewEstimator(slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.SetProbes(NewProbes(4, 3e6))
	b := &bweSetup{t: t, e: e, now: int64(time.Hour), mic: newFakeFlow("audio-mic", false, 50e3)}
	s := &probeSetup{bweSetup: b, cam: &padFlow{fakeFlow: newFakeFlow("video-camera", true, 250e3, 500e3, 1000e3), now: &b.now}}
	b.cam = s.cam.fakeFlow
	e.Add(s.cam)
	e.Add(s.mic)
	return s
}

// second lets a second pass, then the subscriber reports fraction lost
// for both streams, the camera's first.
func (s *probeSetup) second(lost float64) {
	s.now += int64(time.Second)
	s.cam.current = s.cam.target()
	s.e.Report(s.cam, uint8(lost*256), s.now)
	s.e.Report(s.mic, uint8(lost*256), s.now)
}

// toQ has heavy loss put the camera on its smallest layer.
func (s *probeSetup) toQ() {
	s.t.Helper()
	s.second(0)
	s.second(0.5)
	s.second(0.5)
	if got := s.layer(); got != "q" {
		s.t.Fatalf("after heavy loss: layer %s, want q", got)
	}
}

// untilProbe lets clean seconds pass until a probe starts, and returns
// how many.
func (s *probeSetup) untilProbe() int {
	s.t.Helper()
	return s.untilProbeFrom("q")
}

// untilProbeFrom is untilProbe for a camera on layer from.
func (s *probeSetup) untilProbeFrom(from string) int {
	s.t.Helper()
	for i := 1; i <= 30; i++ {
		s.second(0)
		if s.cam.rate > 0 {
			return i
		}
		if got := s.layer(); got != from {
			s.t.Fatalf("stepped up to %s without a probe", got)
		}
	}
	s.t.Fatal("no probe started")
	return 0
}

// rtt has the subscriber report a round trip of ms milliseconds now.
func (s *probeSetup) rtt(ms int) { s.e.RTT(time.Duration(ms)*time.Millisecond, s.now) }

// steadyRTT has 12 s pass with round trips of 40-44 ms, five a second.
func (s *probeSetup) steadyRTT() {
	for i := range 60 {
		s.now += int64(200 * time.Millisecond)
		s.rtt(40 + i%5)
	}
}

func TestProbeStartsBeforeAStepUpAndPassing(t *testing.T) {
	s := newProbeSetup(t)
	s.toQ()
	after := s.untilProbe()
	t.Logf("probe after %d s, padding %.0f bit/s", after, s.cam.rate)
	if after > 4 {
		t.Errorf("probe after %d clean seconds, want at most 4", after)
	}
	// What the subscriber gets in the probe: the largest layer and the
	// microphone, with headroom.
	if got, want := s.cam.rate+250e3+50e3, (1000e3+50e3)/headroom; got < want*0.99 {
		t.Errorf("probed %.0f bit/s, want %.0f", got, want)
	}
	if st := s.e.Probe(); !st.Running || st.Started != 1 {
		t.Errorf("stats during the probe: %+v", st)
	}
	if got := s.layer(); got != "q" {
		t.Fatalf("during the probe: layer %s, want q", got)
	}
	// A clean report a second later passes it: straight to f.
	s.second(0)
	if got := s.layer(); got != "f" {
		t.Fatalf("after the probe passed: layer %s, want f (estimate %d)", got, s.e.Estimate())
	}
	if s.cam.rate != 0 {
		t.Error("still padding after the probe passed")
	}
	if st := s.e.Probe(); st.Running || st.Last != ProbePassed {
		t.Errorf("stats after the probe: %+v", st)
	}
	if c := s.e.probes.Counts(); c != (ProbeCounts{Started: 1, Passed: 1}) {
		t.Errorf("counts %+v", c)
	}
}

func TestProbeThatFailsKeepsTheLayerAndBacksOff(t *testing.T) {
	s := newProbeSetup(t)
	s.toQ()
	var waits []int
	for range 3 {
		waits = append(waits, s.untilProbe())
		s.second(0.3) // the link does not take it
		if s.cam.rate != 0 {
			t.Fatal("still padding after a lossy report")
		}
		if got := s.layer(); got != "q" {
			t.Fatalf("after a failed probe: layer %s, want q", got)
		}
		if st := s.e.Probe(); st.Running || st.Last != ProbeFailed {
			t.Fatalf("stats after a failed probe: %+v", st)
		}
	}
	t.Logf("probes after %v clean seconds", waits)
	if !(waits[1] > waits[0] && waits[2] >= waits[1]) {
		t.Errorf("waits %v: want longer after a failure", waits)
	}
	if w := int64(waits[2]) * int64(time.Second); w > maxProbeHold+int64(time.Second) {
		t.Errorf("waits %v: want at most %v", waits, time.Duration(maxProbeHold))
	}
	if c := s.e.probes.Counts(); c != (ProbeCounts{Started: 3, Failed: 3}) {
		t.Errorf("counts %+v", c)
	}
}

func TestProbeFailsOnAFallingREMB(t *testing.T) {
	s := newProbeSetup(t)
	s.toQ()
	s.e.REMB(600e3, s.now)
	s.untilProbe()
	s.e.REMB(400e3, s.now+int64(300*time.Millisecond))
	if s.cam.rate != 0 || s.cam.stop != 1 {
		t.Fatal("still padding after the REMB fell")
	}
	s.second(0)
	if got := s.layer(); got != "q" {
		t.Fatalf("after a failed probe: layer %s, want q", got)
	}
}

// TestProbeFailsOnAGrowingRoundTrip: a round trip grown well past those
// seen before the probe fails it at once, before any report shows loss.
func TestProbeFailsOnAGrowingRoundTrip(t *testing.T) {
	s := newProbeSetup(t)
	rtt := s.rtt
	s.steadyRTT()
	s.toQ()
	s.untilProbe()
	rtt(52) // within the rise allowed: goes on
	if s.cam.rate == 0 {
		t.Fatal("a round trip 12 ms over the lowest stopped the probe")
	}
	rtt(140)
	if s.cam.rate != 0 || s.cam.stop != 1 {
		t.Fatal("still padding after the round trip grew by 100 ms")
	}
	if st := s.e.Probe(); st.Last != ProbeFailed {
		t.Errorf("stats after the round trip grew: %+v, want the last probe failed", st)
	}
	s.second(0)
	if got := s.layer(); got != "q" {
		t.Fatalf("after a failed probe: layer %s, want q", got)
	}
}

func TestProbeNotWithoutAStepToMake(t *testing.T) {
	s := newProbeSetup(t)
	for range 10 {
		s.second(0)
	}
	if s.cam.pads != 0 {
		t.Errorf("probed a camera on the layer it wants")
	}
	s.toQ()
	s.cam.wanted = 0 // the view wants q only
	for range 10 {
		s.second(0)
	}
	if s.cam.pads != 0 {
		t.Errorf("probed a camera on the layer its view wants")
	}
}

func TestProbesBoundedNodeWide(t *testing.T) {
	p := NewProbes(1, 1e6)
	if a := p.acquire(10, 20); a != 0 {
		t.Fatalf("first slot %d", a)
	}
	if a := p.acquire(11, 21); a != -1 {
		t.Fatalf("second probe at once got slot %d", a)
	}
	if a := p.acquire(20, 30); a != 0 {
		t.Fatalf("slot past its deadline not reused: %d", a)
	}
	p.release(0, 20) // an old holder's release frees nothing
	if a := p.acquire(21, 31); a != -1 {
		t.Fatal("a stale release freed the slot")
	}
	if NewProbes(0, 1e6) != nil {
		t.Error("NewProbes(0) probes")
	}
}

// A link that does not take the layer the view wants may take the one
// between: after a failed probe the next probes for that.
func TestProbeAfterAFailureTriesTheLayerBetween(t *testing.T) {
	s := newProbeSetup(t)
	s.toQ()
	s.untilProbe()
	toF := s.cam.rate
	s.second(0.3)
	s.untilProbe()
	if got, want := s.cam.rate+250e3+50e3, (500e3+50e3)/headroom; got < want*0.99 || got > want*1.01 {
		t.Fatalf("second probe %.0f bit/s in all (the first padded %.0f), want %.0f: for h", got, toF, want)
	}
	s.second(0)
	if got := s.layer(); got != "h" {
		t.Fatalf("after the probe for h passed: layer %s, want h", got)
	}
	// From there the next probe is for f again.
	s.untilProbeFrom("h")
	if got, want := s.cam.rate+500e3+50e3, (1000e3+50e3)/headroom; got < want*0.99 {
		t.Errorf("third probe %.0f bit/s in all, want %.0f: for f", got, want)
	}
}

// A paused layer's bitrate is as it was last measured, often as it
// started: a probe asks for at least twice the layer below.
func TestProbeForAtLeastTwiceTheLayerBelow(t *testing.T) {
	s := newProbeSetup(t)
	s.cam.rates[1] = 300e3 // h, paused as it started
	s.second(0)
	s.second(0.8)
	s.second(0.8)
	if got := s.layer(); got != "q" {
		t.Fatalf("after heavy loss: layer %s, want q", got)
	}
	s.untilProbe()
	s.second(0.3) // f does not fit: next, h
	s.untilProbe()
	if got, want := s.cam.rate+250e3+50e3, (2*250e3+50e3)/headroom; got < want*0.99 {
		t.Errorf("probe for h %.0f bit/s in all, want %.0f", got, want)
	}
}

// The round trips of the queue a failed probe filled, as it drains, do not
// count in those the next probes are judged by: with probes every few
// seconds, every window of round trips would hold a drain.
func TestProbeJudgedWithoutTheLastProbesQueue(t *testing.T) {
	s := newProbeSetup(t)
	rtt := s.rtt
	s.steadyRTT()
	s.toQ()
	for probe := 1; probe <= 4; probe++ {
		for i := 0; s.cam.rate == 0; i++ {
			if i > 150 {
				t.Fatalf("no probe %d in 30 s", probe)
			}
			s.now += int64(200 * time.Millisecond)
			rtt(40 + i%5)
			s.e.Report(s.cam, 0, s.now)
			s.e.Report(s.mic, 0, s.now)
		}
		rtt(140)
		if s.cam.rate != 0 {
			t.Fatalf("probe %d still pads after the round trip grew by 100 ms", probe)
		}
		// The queue drains over 2 s: round trips from 400 ms down to 40.
		for i := range 10 {
			s.now += int64(200 * time.Millisecond)
			rtt(400 - 36*i)
		}
	}
}

// A probe that failed quickly, on the round trip, before the queue it
// filled overflowed, is followed by the next sooner than one that failed
// on loss a second in.
func TestProbeThatFailedQuicklyIsRetriedSooner(t *testing.T) {
	s := newProbeSetup(t)
	rtt := s.rtt
	s.steadyRTT()
	s.toQ()
	s.untilProbe()
	s.now += int64(200 * time.Millisecond)
	rtt(140)
	if s.cam.rate != 0 {
		t.Fatal("still padding after the round trip grew by 100 ms")
	}
	quick := s.untilProbe()
	s.second(0.3) // fails on loss, a second in
	slow := s.untilProbe()
	t.Logf("next probe %d s after a quick failure, %d s after one on loss", quick, slow)
	if quick > 2 || slow <= quick {
		t.Errorf("next probe after %d s (quick failure), %d s (loss): want at most 2 and then longer", quick, slow)
	}
}

// Probes that keep failing quickly (a link the layer below nearly fills)
// back off as others do: the second waits longer than the first, so that
// the queue each leaves behind drains between them.
func TestProbesThatKeepFailingQuicklyBackOff(t *testing.T) {
	s := newProbeSetup(t)
	rtt := s.rtt
	s.steadyRTT()
	s.toQ()
	var holds []int
	s.untilProbe()
	for range 3 {
		s.now += int64(200 * time.Millisecond)
		rtt(140)
		if s.cam.rate != 0 {
			t.Fatal("still padding after the round trip grew by 100 ms")
		}
		holds = append(holds, s.untilProbe())
	}
	t.Logf("next probe after %v s", holds)
	if holds[0] > 2 || holds[1] <= holds[0] || holds[2] < holds[1] || holds[2] > 4 {
		t.Errorf("next probe after %v s of quick failures: want at most 2, then longer, up to 4", holds)
	}
}

// On a path whose round trips spread widely (a link nearly filled by the
// video, its queue standing at 0-100 ms), a probe fails once its round
// trip has risen 100 ms, before the queue it fills overflows.
func TestProbeFailsOnARiseOfAWideSpreadPath(t *testing.T) {
	s := newProbeSetup(t)
	rtt := s.rtt
	for i := range 60 { // 12 s of round trips, 40-120 ms
		s.now += int64(200 * time.Millisecond)
		rtt(40 + (i*37)%81)
	}
	s.toQ()
	s.untilProbe()
	rtt(130)
	if s.cam.rate == 0 {
		t.Fatal("a round trip 90 ms over the lowest stopped the probe")
	}
	rtt(145)
	if s.cam.rate != 0 {
		t.Fatal("still padding after the round trip rose 105 ms")
	}
}
