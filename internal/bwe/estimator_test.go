package bwe

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// fakeFlow is a down track as the estimator sees it: layers with fixed
// bitrates, the one its viewer wants, the cap the estimator set, and the
// layer it sends, which follows its target when the test says.
type fakeFlow struct {
	id       string
	rates    []uint64
	adaptive bool
	wanted   int // -1: not shown
	cap      int
	current  int // -1: sending nothing
	caps     int // CapLayer calls
}

func newFakeFlow(id string, adaptive bool, rates ...uint64) *fakeFlow {
	return &fakeFlow{id: id, rates: rates, adaptive: adaptive, wanted: len(rates) - 1, cap: NoCap, current: -1}
}

func (f *fakeFlow) ID() string { return f.id }

func (f *fakeFlow) SendingRate() float64 {
	switch {
	case !f.adaptive:
		return float64(f.rates[0])
	case f.current < 0:
		return 0
	}
	return float64(f.rates[f.current])
}

func (f *fakeFlow) LayerRates(dst []uint64) ([]uint64, int, bool) {
	return append(dst, f.rates...), f.wanted, f.adaptive
}

func (f *fakeFlow) CapLayer(i int) { f.cap, f.caps = i, f.caps+1 }

// target is the layer the flow is to send: the one wanted, or the cap
// when it is lower; -1 for none.
func (f *fakeFlow) target() int {
	if f.wanted < 0 || f.cap == NoCap || f.cap >= f.wanted {
		return f.wanted
	}
	return f.cap
}

// camRIDs name a camera's layers in the tests' messages.
var camRIDs = []string{"q", "h", "f"}

// bweSetup is one subscriber with a three-layer camera (q 250, h 500,
// f 1000 kbit/s) and a 50 kbit/s microphone, both sending at the rates of
// what they forward, fed reports by the test at a time it controls.
type bweSetup struct {
	t        *testing.T
	e        *Estimator
	cam, mic *fakeFlow
	now      int64
}

func newBWESetup(t *testing.T) *bweSetup {
	e := NewEstimator(slog.New(slog.NewTextHandler(io.Discard, nil)))
	s := &bweSetup{t: t, e: e, now: int64(time.Hour),
		cam: newFakeFlow("video-camera", true, 250e3, 500e3, 1000e3),
		mic: newFakeFlow("audio-mic", false, 50e3)}
	e.Add(s.cam)
	e.Add(s.mic)
	return s
}

// second lets a second pass, in which the camera switched to its target
// layer, then the subscriber reports fraction lost for both streams.
func (s *bweSetup) second(lost float64) {
	s.now += int64(time.Second)
	s.cam.current = s.cam.target()
	for _, f := range []*fakeFlow{s.cam, s.mic} {
		s.e.Report(f, uint8(lost*256), s.now)
	}
}

// rembFallsTo has the subscriber's REMB fall from 1.2 Mbit/s to b while it
// reports some loss.
func (s *bweSetup) rembFallsTo(b float32) {
	s.e.REMB(1200e3, s.now)
	s.second(0.05)
	s.e.REMB(b, s.now)
}

// climbs fails unless, over that many seconds without loss (each also
// running also), the camera's layer goes from q to h to f.
func (s *bweSetup) climbs(seconds int, also func()) {
	s.t.Helper()
	var path []string
	for range seconds {
		s.second(0)
		also()
		if l := s.layer(); len(path) == 0 || path[len(path)-1] != l {
			path = append(path, l)
		}
	}
	if want := []string{"q", "h", "f"}; !equal(path, want) {
		s.t.Fatalf("climbed %v, want %v", path, want)
	}
}

func (s *bweSetup) layer() string {
	if i := s.cam.target(); i >= 0 {
		return camRIDs[i]
	}
	return ""
}

func TestEstimatorFallsWhenLossLastsAndClimbsSlowly(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.second(0)
	if got := s.layer(); got != "f" {
		t.Fatalf("without loss: layer %s, want f", got)
	}
	// Half lost: the link carries about 525 kbit/s, 85% of it is 446, less
	// audio 396: only q fits. One report is not enough to say so.
	s.second(0.5)
	if got := s.layer(); got != "f" {
		t.Fatalf("after one lossy report: layer %s, want f", got)
	}
	s.second(0.5)
	if got := s.layer(); got != "q" {
		t.Fatalf("after heavy loss: layer %s, want q (estimate %d)", got, s.e.Estimate())
	}
	// Without loss the estimate grows 15% a second; each layer up waits for
	// it to have allowed more for 3 seconds, one layer at a time.
	s.climbs(20, func() {})
}

func TestEstimatorIgnoresALossBurst(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	for range 3 {
		s.second(0.6)
		s.second(0)
		s.second(0)
	}
	if got := s.layer(); got != "f" {
		t.Errorf("after single lossy reports: layer %s, want f (estimate %d)", got, s.e.Estimate())
	}
}

func TestEstimatorBacksOffAfterAFailedStep(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.second(0.5)
	s.second(0.5)
	climb := func() int {
		for i := 1; i <= 60; i++ {
			s.second(0)
			if s.layer() != "q" {
				return i
			}
		}
		t.Fatal("never climbed")
		return 0
	}
	first := climb()
	s.second(0.4) // the step up did not fit
	s.second(0.4)
	if got := s.layer(); got != "q" {
		t.Fatalf("after loss on h: layer %s, want q", got)
	}
	second := climb()
	t.Logf("first step up after %d s, second after %d s", first, second)
	if second <= first {
		t.Errorf("second step up after %d s, first after %d s: want a longer wait", second, first)
	}
}

func TestEstimatorNeverGoesBelowTheSmallestLayer(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	for range 5 {
		s.second(0.9)
	}
	if got := s.layer(); got != "q" {
		t.Errorf("layer %s, want q", got)
	}
	if s.mic.caps != 0 {
		t.Error("audio was capped")
	}
}

func TestEstimatorFollowsREMB(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.rembFallsTo(700e3)
	if got := s.layer(); got != "h" {
		t.Errorf("REMB 700 kbit/s: layer %s, want h", got)
	}
	s.e.REMB(200e3, s.now+1)
	if got := s.layer(); got != "q" {
		t.Errorf("REMB 200 kbit/s: layer %s, want q", got)
	}
}

// A browser's REMB grows only with what it receives: above what meetd
// sends, it says nothing of what more the link can take.
func TestEstimatorClimbsPastAREMBThatFollowsWhatItGets(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.rembFallsTo(200e3)
	if got := s.layer(); got != "q" {
		t.Fatalf("REMB 200 kbit/s: layer %s, want q", got)
	}
	// Each second it grows 8%, up to 1.5 times what it gets: after a step
	// up it is below what meetd sends for a while.
	remb := 200e3
	s.climbs(30, func() {
		remb = min(remb*1.08, 1.5*(s.cam.SendingRate()+s.mic.SendingRate()))
		s.e.REMB(float32(remb), s.now)
	})
}

// A busy browser's REMB falls for jitter alone: without loss it bounds
// the estimate only on trial, and then not for a while.
func TestEstimatorReleasesAREMBFallWithoutLoss(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.e.REMB(1200e3, s.now)
	s.e.REMB(100e3, s.now)
	if got := s.layer(); got != "q" {
		t.Fatalf("REMB 100 kbit/s: layer %s, want q at once, on trial", got)
	}
	s.second(0)
	s.second(0) // the trial's 2 s are over, and nothing confirmed it
	if got := s.layer(); got != "f" {
		t.Fatalf("REMB 100 kbit/s without loss, 2 s on: layer %s, want f", got)
	}
	// Distrusted now: another fall without loss moves nothing...
	for range 9 {
		s.e.REMB(1200e3, s.now)
		s.e.REMB(100e3, s.now)
		s.second(0)
		if got := s.layer(); got != "f" {
			t.Fatalf("REMB fall while distrusted: layer %s, want f", got)
		}
	}
	// ...until the distrust is over; the next trial in vain doubles it.
	s.second(0)
	s.e.REMB(1200e3, s.now)
	s.e.REMB(100e3, s.now)
	if got := s.layer(); got != "q" {
		t.Fatalf("REMB fall 10 s after a trial: layer %s, want q", got)
	}
	s.second(0)
	s.second(0)
	for range 15 {
		s.e.REMB(1200e3, s.now)
		s.e.REMB(100e3, s.now)
		s.second(0)
		if got := s.layer(); got != "f" {
			t.Fatalf("REMB fall after a second trial in vain: layer %s, want f", got)
		}
	}
}

// A REMB far below what meetd sends caps the layer at once, before any
// report shows loss.
func TestEstimatorStepsDownAtOnceOnAFarLowerREMB(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.e.REMB(1200e3, s.now)
	s.e.REMB(800e3, s.now) // 76% of the 1050 kbit/s meetd sends
	if got := s.layer(); got != "h" {
		t.Fatalf("REMB 800 kbit/s without loss: layer %s, want h at once", got)
	}
}

// A trial confirmed by loss or by a longer round trip holds: the REMB
// becomes the estimate, which then grows as after loss.
func TestEstimatorKeepsAConfirmedREMB(t *testing.T) {
	for _, by := range []string{"loss", "rtt"} {
		t.Run(by, func(t *testing.T) {
			s := newBWESetup(t)
			s.e.RTT(20*time.Millisecond, s.now)
			s.second(0)
			s.e.REMB(1200e3, s.now)
			s.e.REMB(300e3, s.now)
			if by == "loss" {
				s.second(0.03)
			} else {
				s.e.RTT(200*time.Millisecond, s.now+1)
				s.second(0)
			}
			for i := range 4 {
				s.second(0)
				if got := s.layer(); got != "q" {
					t.Fatalf("%d s after a trial confirmed by %s: layer %s, want q (estimate %d)", i+2, by, got, s.e.Estimate())
				}
			}
		})
	}
}

// On a jittery path (150 ms ± 30) a round trip as long as those seen
// before confirms nothing: the trial is released.
func TestEstimatorTrialAllowsForAJitteryRoundTrip(t *testing.T) {
	s := newBWESetup(t)
	for i, ms := range []int{150, 121, 179, 140, 165} {
		s.e.RTT(time.Duration(ms)*time.Millisecond, s.now+int64(i))
	}
	s.second(0)
	s.e.REMB(1200e3, s.now)
	s.e.REMB(300e3, s.now)
	s.e.RTT(180*time.Millisecond, s.now+1)
	s.second(0)
	s.e.RTT(178*time.Millisecond, s.now+1)
	s.second(0)
	if got := s.layer(); got != "f" {
		t.Fatalf("jitter alone in the round trip during a trial: layer %s, want f", got)
	}
}

// A queue that began to fill before the REMB fell (a step up onto a link
// that cannot take it) lengthened the round trips just before the trial:
// that does not raise what confirms it.
func TestEstimatorTrialConfirmedByARoundTripThatRoseBefore(t *testing.T) {
	s := newBWESetup(t)
	for range 6 { // five reports a second, as Chrome sends with REMB
		for k := range 5 {
			s.e.RTT(22*time.Millisecond, s.now+int64(k)*int64(200*time.Millisecond))
		}
		s.second(0)
	}
	for k := range 3 {
		s.e.RTT(73*time.Millisecond, s.now+int64(k))
	}
	s.e.REMB(1200e3, s.now)
	s.e.REMB(400e3, s.now)
	s.e.RTT(85*time.Millisecond, s.now+1)
	for range 3 {
		s.second(0)
		if got := s.layer(); got != "q" {
			t.Fatalf("after a trial confirmed by a round trip: layer %s, want q (estimate %d)", got, s.e.Estimate())
		}
	}
}

// A path whose round trip grew a few seconds ago (a route that changed,
// a link that got slower) and stays long: the window since has few round
// trips, and they confirm nothing.
func TestEstimatorTrialAllowsForARoundTripThatGrewBefore(t *testing.T) {
	s := newBWESetup(t)
	for range 6 {
		s.e.RTT(20*time.Millisecond, s.now)
		s.second(0)
	}
	for _, ms := range []int{86, 150, 170} {
		s.e.RTT(time.Duration(ms)*time.Millisecond, s.now)
		s.second(0)
	}
	s.e.REMB(1200e3, s.now)
	s.e.REMB(600e3, s.now)
	s.e.RTT(165*time.Millisecond, s.now+1)
	s.second(0)
	s.second(0)
	if got := s.layer(); got != "f" {
		t.Fatalf("a round trip as long as those since it grew: layer %s, want f", got)
	}
}

func TestEstimatorLeavesTheViewAlone(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.second(0.5)
	s.second(0.5)
	s.cam.wanted = -1 // hidden
	s.second(0)
	if i := s.cam.target(); i >= 0 {
		t.Errorf("a hidden video gets layer %s", camRIDs[i])
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkEstimatorReport is the work of one receiver report on a
// subscriber of 16 videos and 16 microphones (a full meeting): about one
// per stream per second.
func BenchmarkEstimatorReport(b *testing.B) {
	e := NewEstimator(slog.New(slog.NewTextHandler(io.Discard, nil)))
	var flows []*fakeFlow
	for range 16 {
		cam := newFakeFlow("video", true, 250e3, 500e3, 1000e3)
		cam.current = 2
		flows = append(flows, cam, newFakeFlow("audio", false, 50e3))
	}
	for _, f := range flows {
		e.Add(f)
	}
	now := int64(time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now += int64(time.Second) / int64(len(flows))
		e.Report(flows[i], 5, now)
		i = (i + 1) % len(flows)
	}
}
