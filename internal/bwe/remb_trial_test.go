package bwe

import "testing"

// A REMB trial that nothing confirmed puts the layer back as it was, but
// the layer the view wants only after a probe shows the link takes it: the
// step down may have come in time to keep the bottleneck from losing
// anything.
func TestReleasedTrialStepsUpAfterAProbe(t *testing.T) {
	s := newProbeSetup(t)
	s.second(0)
	s.e.REMB(1200e3, s.now)
	s.e.REMB(300e3, s.now)
	if got := s.layer(); got != "q" {
		t.Fatalf("REMB 300 kbit/s: layer %s, want q at once, on trial", got)
	}
	s.second(0)
	s.second(0) // the trial's 2 s are over, and nothing confirmed it
	if got := s.layer(); got != "h" {
		t.Fatalf("trial released: layer %s, want h (below f) until a probe passes", got)
	}
	s.untilProbeFrom("h")
	s.second(0)
	if got := s.layer(); got != "f" {
		t.Fatalf("after the probe: layer %s, want f (last probe %q)", got, s.e.Probe().Last)
	}
}

// A REMB that falls just after a probe failed fell for the probe's
// padding: it begins no trial, and the layer stays where it was.
func TestREMBFallAfterAFailedProbeBeginsNoTrial(t *testing.T) {
	s := newProbeSetup(t)
	s.toHOnATrial()
	s.untilProbeFrom("h")
	s.e.REMB(600e3, s.now+ms(200))
	if s.cam.rate != 0 {
		t.Fatal("still padding after the REMB fell")
	}
	s.e.REMB(300e3, s.now+ms(400))
	if got := s.layer(); got != "h" {
		t.Fatalf("REMB fell further 200 ms after the failed probe: layer %s, want h", got)
	}
}

// A trial released after one that was confirmed puts back the layer the
// confirmed one left: a REMB that fell further, with nothing to confirm it,
// says nothing.
func TestReleasedTrialPutsBackTheLayerAConfirmedOneLeft(t *testing.T) {
	s := newProbeSetup(t)
	s.toHOnATrial()
	s.second(0)
	if s.cam.rate != 0 {
		t.Fatal("a probe began: the test wants none yet")
	}
	s.e.REMB(200e3, s.now)
	if got := s.layer(); got != "q" {
		t.Fatalf("REMB 200 kbit/s: layer %s, want q at once, on trial", got)
	}
	s.second(0)
	s.second(0)
	if got := s.layer(); got != "h" {
		t.Fatalf("second trial released: layer %s, want h", got)
	}
}

// toHOnATrial has a REMB of 800 kbit/s, confirmed by loss, put the camera
// on its middle layer.
func (s *probeSetup) toHOnATrial() {
	s.t.Helper()
	s.second(0)
	s.e.REMB(1200e3, s.now)
	s.e.REMB(800e3, s.now)
	s.second(0.05) // loss confirms the trial
	if got := s.layer(); got != "h" {
		s.t.Fatalf("REMB 800 kbit/s with loss: layer %s, want h", got)
	}
}
