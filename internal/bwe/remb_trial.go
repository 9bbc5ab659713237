package bwe

import "time"

// A REMB that falls far below what meetd sends is acted on at once, on
// trial, without waiting for the receiver reports to show loss.
//
// With abs-send-time, Chrome's REMB falls within a few hundred
// milliseconds of a link's queue starting to fill, while the reports that
// show the loss come about a second apart and loss counts only once two
// of them show it: waiting for them lets the full layer fill the
// bottleneck's queue and overflow it. But a busy machine's browser also
// lowers its REMB for scheduling jitter alone, on a clear link. So the
// trial bound is kept only if a report during the trial shows loss (the
// queue did overflow) or a round trip grown over the lowest seen lately,
// by more than the round trips' spread then (the queue is filling); otherwise the caps it lowered are
// put back as they were when it began, and for rembDistrust (doubling
// after each trial in vain, up to maxRembDistrust) a REMB without loss
// bounds nothing again, as before. A second low REMB confirms nothing:
// the browser's estimate cannot rise above about 1.5 times what it
// receives, so once the layer is lowered it stays low whether the link
// was full or not.
type rembTrial struct {
	// until is when the trial ends, 0 while none runs; from is what meetd
	// sent when it began.
	until int64
	from  float64
	// saved are the caps the trial found, put back if it fails.
	saved []savedCap
	// distrustUntil is when a REMB may begin a trial again; distrust is
	// how long the next failed trial keeps it from doing so.
	distrustUntil, distrust int64
	// rtts are the lowest and highest round trips reported in the window
	// begun at rttAt and in the one before it (0: none).
	rtts  [2]rttRange
	rttAt int64
}

// rttRange is what a window of round trips held: the lowest, the
// highest, and how many.
type rttRange struct{ lo, hi, n int64 }

type savedCap struct {
	d   Flow
	f   *flow
	cap int
}

// Settings of the REMB trial.
const (
	// A REMB that fell, to under rembTrialBelow of what meetd sends,
	// begins a trial.
	rembTrialBelow = 0.85
	// rembTrialFor is how long a trial waits for a report to confirm it:
	// reports come about once a second.
	rembTrialFor    = int64(2 * time.Second)
	rembDistrust    = int64(10 * time.Second)
	maxRembDistrust = int64(2 * time.Minute)
	// A round trip longer than the lowest seen in the last two windows of
	// rttWindow by rttRise, and by twice the spread within a window (a
	// jittery path, a busy machine), says a queue is filling.
	rttRise    = int64(25 * time.Millisecond)
	rttWindow  = int64(5 * time.Second)
	rttSamples = 5
	// rttAfterProbe is how long after a failed probe round trips are
	// left out of those seen lately.
	rttAfterProbe = int64(3 * time.Second)
	// probeRTTRise bounds the rise in round trip that fails a probe.
	probeRTTRise = int64(100 * time.Millisecond)
)

// onTrial reports whether a REMB trial runs at now.
func (e *Estimator) onTrial(now int64) bool {
	return e.trial.until != 0 && now < e.trial.until
}

// beginTrial begins a trial of the REMB b, which fell to under what meetd
// sends, if nothing else bounds the estimate and REMB is not distrusted;
// it reports whether it did.
func (e *Estimator) beginTrial(b, sending float64, falling bool, now int64) bool {
	t := &e.trial
	if !falling || b >= rembTrialBelow*sending || e.rembAt != 0 || t.until != 0 || now < t.distrustUntil {
		return false
	}
	if e.probe != nil || (e.probeFailedAt != 0 && now-e.probeFailedAt < probeAfterglow) {
		// The probe's padding made it fall: the probe failed on it, and
		// the layer was never raised.
		return false
	}
	t.until, t.from = now+rembTrialFor, sending
	t.saved = t.saved[:0]
	for d, f := range e.flows {
		t.saved = append(t.saved, savedCap{d, f, f.applied})
	}
	e.rembRate, e.rembAt = b, now
	e.log.Info("REMB trusted on trial", "remb", int(b), "sending", int(sending))
	return true
}

// trialREMB notes a REMB b during a trial: a lower one bounds the
// estimate in its place; one back near what meetd sent when the trial
// began ends it.
func (e *Estimator) trialREMB(b float64, now int64) {
	switch {
	case b >= rembFull*e.trial.from:
		e.endTrial(false, now)
	case b < e.rembRate:
		e.rembRate, e.rembAt = b, now
	default:
		e.rembAt = now // still low: the bound stays fresh
	}
}

// trialReport notes a report's loss p during a trial: loss confirms it.
func (e *Estimator) trialReport(p float64, now int64) {
	if p >= clear {
		e.endTrial(true, now)
	}
}

// trialRTT notes a round trip reported at now. During a trial, one that
// grew over the lowest seen lately by rttRise and by twice their spread
// in a window confirms it; during a probe, the same fails the probe: the
// padding fills a queue, and the round trip says so within a few hundred
// milliseconds, where a report with loss comes a second later, the queue
// full. Round trips seen in neither count in those seen lately.
func (e *Estimator) trialRTT(rtt time.Duration, now int64) {
	t := &e.trial
	r := int64(rtt)
	trial := e.onTrial(now)
	if trial || e.probe != nil {
		if trial && e.rttGrew(r, false) {
			e.endTrial(true, now)
		}
		if e.probe != nil && e.rttGrew(r, true) {
			e.judgeProbe(now, "the round trip grew", false)
		}
		return
	}
	if e.probeFailedAt != 0 && now-e.probeFailedAt < rttAfterProbe {
		// The queue a failed probe filled is draining: its round trips
		// say nothing of the path, and would widen the spread the next
		// probe's round trips are judged by.
		return
	}
	if now-t.rttAt >= rttWindow {
		t.rtts[1], t.rtts[0], t.rttAt = t.rtts[0], rttRange{}, now
	}
	w := &t.rtts[0]
	if w.lo == 0 || r < w.lo {
		w.lo = max(r, 1)
	}
	w.hi = max(w.hi, r)
	w.n++
}

// rttGrew reports whether round trip r (nanoseconds) grew over the lowest
// of the last two windows by rttRise and by twice the round trips'
// spread. The spread is the smaller of the two windows': a queue that
// began to fill just before the REMB fell widens only the last. A window
// of a few round trips says little of it: without two windows of
// rttSamples, it is taken across both.
//
// For a probe the rise asked for is at most probeRTTRise: a probe that
// fails for a jittery path only waits for the next, where a trial
// confirmed for one would keep the viewer small, and the queue a probe
// fills on a link whose own media nearly fills it (a standing queue of
// 0-100 ms) overflowed before its round trips rose past twice that spread.
func (e *Estimator) rttGrew(r int64, probe bool) bool {
	a, b := e.trial.rtts[0], e.trial.rtts[1]
	lo, spread := a.lo, a.hi-a.lo
	if b.lo != 0 {
		lo = min(a.lo, b.lo)
		switch {
		case a.n >= rttSamples && b.n >= rttSamples:
			spread = min(spread, b.hi-b.lo)
		default:
			spread = max(a.hi, b.hi) - lo
		}
	}
	e.log.Debug("round trip", "rtt", time.Duration(r), "min", time.Duration(lo), "spread", time.Duration(spread))
	rise := max(rttRise, 2*spread)
	if probe {
		rise = min(rise, probeRTTRise)
	}
	return lo != 0 && r-lo >= rise
}

// expireTrial ends a trial that nothing confirmed in time.
func (e *Estimator) expireTrial(now int64) {
	if e.trial.until != 0 && now >= e.trial.until {
		e.endTrial(false, now)
	}
}

// endTrial ends the trial. Confirmed, the REMB it began with becomes the
// loss-based estimate, which then grows as after loss. Not confirmed, the
// bound goes, REMB without loss is distrusted for a while, and the caps it
// lowered rise again after a probe passes, or at once without probing.
func (e *Estimator) endTrial(confirmed bool, now int64) {
	t := &e.trial
	if t.until == 0 {
		return
	}
	t.until = 0
	if confirmed {
		if e.loss == 0 || e.rembRate < e.loss {
			e.loss, e.grown = e.rembRate, now
		}
		t.distrust = 0
		e.log.Info("REMB trial confirmed", "estimate", int(e.loss))
		return
	}
	e.rembAt = 0
	if t.distrust == 0 {
		t.distrust = rembDistrust
	} else {
		t.distrust = min(2*t.distrust, maxRembDistrust)
	}
	t.distrustUntil = now + t.distrust
	if e.probes != nil {
		// The caps go back as they were, but never to the layer the view
		// wants: that one waits for a probe to show the link takes it. A
		// step down that came in time to keep the bottleneck's queue
		// from overflowing leaves no loss to confirm it, and putting the
		// larger layer straight back overflowed it; but a REMB that fell
		// further during the trial is no more trusted than the first.
		for _, s := range t.saved {
			_, want, _ := s.d.LayerRates(e.rates[:0])
			c := want - 1
			if s.cap != NoCap {
				c = min(c, s.cap)
			}
			c = max(c, 0)
			if e.flows[s.d] == s.f && capBelow(s.f.applied, c) {
				s.f.applied = c
				s.d.CapLayer(c)
			}
		}
		t.saved = t.saved[:0]
		e.log.Info("REMB trial released", "distrust", time.Duration(t.distrust), "then", "a probe")
		return
	}
	for _, s := range t.saved {
		if e.flows[s.d] == s.f && capBelow(s.f.applied, s.cap) {
			s.f.applied = s.cap
			s.d.CapLayer(s.cap)
		}
	}
	t.saved = t.saved[:0]
	e.log.Info("REMB trial released", "distrust", time.Duration(t.distrust))
}

// RTT notes a round trip a receiver report gave at now (unix
// nanoseconds).
func (e *Estimator) RTT(rtt time.Duration, now int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.trialRTT(rtt, now)
}
