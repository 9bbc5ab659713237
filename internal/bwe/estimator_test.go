package sfu

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// bweSetup is one subscriber with a three-layer camera (q 250, h 500,
// f 1000 kbit/s) and a 50 kbit/s microphone, both sending at the rates of
// what they forward, fed reports by the test at a time it controls.
type bweSetup struct {
	t        *testing.T
	e        *Estimator
	cam, mic *DownTrack
	camT     *Track
	now      int64
}

func newBWESetup(t *testing.T) *bweSetup {
	cam := newSimulcastTrack()
	for i, rate := range []uint64{250e3, 500e3, 1000e3} {
		(*cam.layers.Load())[i].bitrate.Store(rate)
	}
	mic := newTestTrack()
	mic.kind = webrtc.RTPCodecTypeAudio
	(*mic.layers.Load())[0].bitrate.Store(50e3)
	e := NewEstimator(slog.New(slog.NewTextHandler(io.Discard, nil)))
	s := &bweSetup{t: t, e: e, camT: cam, now: int64(time.Hour)}
	s.cam = subscribe(cam, 1, 96, discard{})
	s.mic = subscribe(mic, 2, 111, discard{})
	s.cam.SetEstimator(e)
	s.mic.SetEstimator(e)
	return s
}

// second lets a second pass, in which the camera switched to its target
// layer, then the subscriber reports fraction lost for both streams.
func (s *bweSetup) second(lost float64) {
	s.now += int64(time.Second)
	s.cam.current.Store(s.cam.target.Load())
	for _, d := range []*DownTrack{s.cam, s.mic} {
		d.noteReportsAt([]rtcp.ReceptionReport{{SSRC: wire(d.wire.Load()).ssrc(), FractionLost: uint8(lost * 256)}}, s.now)
	}
}

// rembFallsTo has the subscriber's REMB fall from 1.2 Mbit/s to b while it
// reports some loss.
func (s *bweSetup) rembFallsTo(b float32) {
	s.e.remb(1200e3, s.now)
	s.second(0.05)
	s.e.remb(b, s.now)
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
	if l := s.cam.target.Load(); l != nil {
		return l.rid
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
	if s.mic.target.Load() == nil {
		t.Error("audio was dropped")
	}
}

func TestEstimatorFollowsREMB(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.rembFallsTo(700e3)
	if got := s.layer(); got != "h" {
		t.Errorf("REMB 700 kbit/s: layer %s, want h", got)
	}
	s.e.remb(200e3, s.now+1)
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
		remb = min(remb*1.08, 1.5*(s.cam.sendingRate()+s.mic.sendingRate()))
		s.e.remb(float32(remb), s.now)
	})
}

// A busy browser's REMB falls for jitter alone; without loss it bounds
// nothing.
func TestEstimatorIgnoresAREMBFallWithoutLoss(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.e.remb(1200e3, s.now)
	s.e.remb(100e3, s.now)
	s.second(0)
	if got := s.layer(); got != "f" {
		t.Fatalf("REMB 100 kbit/s without loss: layer %s, want f", got)
	}
}

func TestEstimatorLeavesTheViewAlone(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.second(0.5)
	s.second(0.5)
	s.cam.SetView(View{}) // hidden
	s.second(0)
	if l := s.cam.target.Load(); l != nil {
		t.Errorf("a hidden video gets layer %s", l.rid)
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
	var downs []*DownTrack
	for i := range 16 {
		cam := newSimulcastTrack()
		for j, rate := range []uint64{250e3, 500e3, 1000e3} {
			(*cam.layers.Load())[j].bitrate.Store(rate)
		}
		mic := newTestTrack()
		mic.kind = webrtc.RTPCodecTypeAudio
		for _, d := range []*DownTrack{subscribe(cam, uint32(2*i+1), 96, discard{}), subscribe(mic, uint32(2*i+2), 111, discard{})} {
			d.SetEstimator(e)
			downs = append(downs, d)
		}
	}
	reports := make([][]rtcp.ReceptionReport, len(downs))
	for i, d := range downs {
		reports[i] = []rtcp.ReceptionReport{{SSRC: wire(d.wire.Load()).ssrc(), FractionLost: 5}}
	}
	now := int64(time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now += int64(time.Second) / int64(len(downs))
		downs[i].noteReportsAt(reports[i], now)
		i = (i + 1) % len(downs)
	}
}
