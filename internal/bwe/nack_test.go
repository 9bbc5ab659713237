package bwe

import (
	"testing"
	"time"
)

// ms is a duration in unix nanoseconds.
func ms(n int) int64 { return int64(n) * int64(time.Millisecond) }

// A probe that makes the subscriber NACK packets fails at once, before the
// receiver report, which shows no loss once the packets were resent.
func TestProbeFailsOnNACKs(t *testing.T) {
	s := newProbeSetup(t)
	s.toQ()
	s.untilProbe()
	s.e.NACK(2, s.now+ms(150))
	if s.cam.rate == 0 {
		t.Fatal("2 packets reported lost: padding stopped, want it on (a reordered packet is NACKed too)")
	}
	s.e.NACK(3, s.now+ms(200))
	if s.cam.rate != 0 || s.cam.stop != 1 {
		t.Fatal("still padding after the subscriber reported 5 packets lost")
	}
	if st := s.e.Probe(); st.Last != ProbeFailed {
		t.Fatalf("stats after NACKs: %+v, want the probe failed", st)
	}
	s.second(0) // resent in time: the report shows none lost
	if got := s.layer(); got != "q" {
		t.Fatalf("after the probe failed on NACKs: layer %s, want q", got)
	}
}

// On a link that loses packets at random, NACKs at the rate of before
// fail nothing: the probe passes and the layer steps up.
func TestProbePassesDespiteSteadyNACKs(t *testing.T) {
	s := newProbeSetup(t)
	s.toQ()
	// Two packets reported lost every 250 ms, for the last 5 s and on.
	nackEvery := func(from, to int64) {
		for at := from; at < to; at += ms(250) {
			s.e.NACK(2, at)
		}
	}
	nackEvery(s.now-int64(5*time.Second), s.now)
	for i := 1; i <= 30 && s.cam.rate == 0; i++ {
		nackEvery(s.now, s.now+int64(time.Second))
		s.second(0)
	}
	if s.cam.rate == 0 {
		t.Fatal("no probe started")
	}
	nackEvery(s.now, s.now+int64(time.Second))
	if s.cam.rate == 0 {
		t.Fatal("a second of NACKs at the rate of before stopped the probe")
	}
	s.second(0)
	if got := s.layer(); got != "f" {
		t.Fatalf("after the probe: layer %s, want f (last probe %q)", got, s.e.Probe().Last)
	}
}

// A REMB trial whose step down made the subscriber NACK packets is
// confirmed, though the receiver reports show none lost (meetd resent
// them in time): the layer stays down.
func TestEstimatorTrialConfirmedByNACKs(t *testing.T) {
	s := newBWESetup(t)
	s.second(0)
	s.e.REMB(1200e3, s.now)
	s.e.REMB(300e3, s.now)
	if got := s.layer(); got != "q" {
		t.Fatalf("REMB 300 kbit/s: layer %s, want q at once, on trial", got)
	}
	s.e.NACK(6, s.now+ms(100))
	for i := range 4 {
		s.second(0)
		if got := s.layer(); got != "q" {
			t.Fatalf("%d s after a trial with NACKs: layer %s, want q (estimate %d)", i+1, got, s.e.Estimate())
		}
	}
}
