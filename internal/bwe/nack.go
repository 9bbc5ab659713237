package bwe

import "time"

// Packets the subscriber reports lost (NACKs) are the quickest sign that a
// probe or a step down's trial overflowed the bottleneck: a NACK comes a
// round trip after the first drop, where the receiver reports come about a
// second apart, and once meetd has resent what was lost (on the same
// stream) they show no loss at all. A link that loses packets at random
// NACKs all the time, so what counts is NACKs beyond the rate seen before
// the probe or the trial began.

// nackLog keeps when, and how many, packets the subscriber reported lost:
// the last len(at) NACKs.
type nackLog struct {
	at   [64]int64
	lost [64]int32
	next int
}

// Settings of the NACK verdict.
const (
	// nackBase is how far back the rate of NACKs before a probe or a
	// trial is taken.
	nackBase = int64(5 * time.Second)
	// nackSlack is how many packets above that rate may be reported lost
	// (a reordered packet is NACKed too).
	nackSlack = 3
)

func (l *nackLog) add(lost int, now int64) {
	l.at[l.next], l.lost[l.next] = now, int32(min(lost, 1<<20))
	l.next = (l.next + 1) % len(l.at)
}

// count is how many packets the NACKs in [from, to) reported lost.
func (l *nackLog) count(from, to int64) int {
	n := 0
	for i, at := range l.at {
		if at != 0 && at >= from && at < to {
			n += int(l.lost[i])
		}
	}
	return n
}

// nackedSince reports whether the packets reported lost from since to now
// exceed, by nackSlack, what the rate before since would give.
func (e *Estimator) nackedSince(since, now int64) bool {
	got := e.nacks.count(since, now+1)
	if got < nackSlack {
		return false
	}
	base := float64(e.nacks.count(since-nackBase, since)) * float64(now-since) / float64(nackBase)
	return float64(got) >= base+nackSlack
}

// NACK notes that the subscriber reported lost packets of a video it
// receives, at now (unix nanoseconds): beyond the rate of before, it fails
// a running probe and confirms a REMB trial.
func (e *Estimator) NACK(lost int, now int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nacks.add(lost, now)
	e.expireTrial(now)
	changed := false
	if e.onTrial(now) && e.nackedSince(e.trial.until-rembTrialFor, now) {
		e.endTrial(true, now)
		changed = true
	}
	if p := e.probe; p != nil && e.nackedSince(p.start, now) {
		e.judgeProbe(now, "the subscriber reported lost packets", false)
		changed = true
	}
	if changed {
		e.allocate(now)
	}
}
