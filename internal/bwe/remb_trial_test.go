package bwe

import "testing"

// A REMB trial that nothing confirmed puts the layer back one below where
// it was, and the rest after a probe shows the link takes more: the step
// down may have come in time to keep the bottleneck from losing anything.
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
		t.Fatalf("trial released: layer %s, want h (one below f) until a probe passes", got)
	}
	s.untilProbeFrom("h")
	s.second(0)
	if got := s.layer(); got != "f" {
		t.Fatalf("after the probe: layer %s, want f (last probe %q)", got, s.e.Probe().Last)
	}
}
