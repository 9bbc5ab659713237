package bwe

import (
	"sync"
	"sync/atomic"
	"time"
)

// Probing. The loss-based estimate grows only while nothing is lost, and a
// browser's REMB only to about 1.5× what it receives: neither says that a
// link which became faster takes the next layer. So before it steps a
// subscriber's video up (or while the estimate alone holds it below the
// layer its view wants), the estimator probes, as send-side congestion
// control does: the video's down track sends padding-only packets on top
// of its media, so that the subscriber receives about what the higher
// layer needs, for at most probeMax. The verdict comes from what the
// browser sends anyway, and fails the probe at once: a round trip grown
// past the spread seen before (while it pads, the down track's sender
// reports come every 100 ms, so the round trips in the receiver reports
// Chromium sends with each REMB show the queue the padding fills within
// about 200 ms), a REMB that falls (with abs-send-time it measures
// queueing delay), NACKs beyond the rate of before (nack.go), or a receiver
// report that shows loss; a clean report at least probeMin after the start
// passes it. A probe that passes sets the estimate to the rate probed and raises the cap at once,
// up to the layer probed; one that fails stops the padding and doubles the
// wait before the next, up to maxProbeHold, and the next probes for one
// layer less (down to the next one up), since a link that cannot take the
// layer the view wants may take one between.

// Padder is a Flow that can send padding to probe its subscriber's link.
type Padder interface {
	// Pad makes the flow send padding at bps bits per second on top of
	// its media until until (unix nanoseconds); bps 0 stops it at once.
	// It returns false when the flow cannot pad now (not sending video,
	// or on a path that queues).
	Pad(bps float64, until int64) bool
	// Padded is how many bytes of padding the flow sent since Pad last
	// started it.
	Padded() uint64
}

// Probe timing and bounds.
const (
	// A report that comes probeMin or more after the probe started
	// covers enough of it (browsers report about once a second).
	probeMin = int64(900 * time.Millisecond)
	// probeMax bounds a probe: without a verdict by then it failed.
	probeMax = int64(2500 * time.Millisecond)
	// maxProbeHold bounds the wait before the next probe after failed
	// ones: short enough that a link that improved is found within a
	// few seconds, long enough that one that did not is seldom
	// disturbed (a failed probe overloads it for a fraction of a second:
	// the round trip grows or a REMB falls within about 200 ms).
	maxProbeHold = int64(4 * time.Second)
	// A first probe that failed within quickFail of its start (on the
	// round trip or the REMB, the queue it filled far from full) is
	// followed by the next after quickProbeHold; one that failed later,
	// most often on loss, or after other failures, by a wait that doubles
	// up to maxProbeHold.
	quickFail      = int64(600 * time.Millisecond)
	quickProbeHold = int64(2 * time.Second)
	// probeAfterglow is how long after a failed probe a falling REMB is
	// put down to the probe's padding, not to the link: it begins no
	// trial (remb_trial.go).
	probeAfterglow = int64(time.Second)
	// passHold is the wait after a probe that passed for a layer below
	// the one the view wants, before the next: the next may run while
	// the switch to the layer probed waits for its keyframe.
	passHold = int64(500 * time.Millisecond)
	// maxProbeLayers bounds the layers of a flow a probe considers.
	maxProbeLayers = 8
	// A probe passes only if at least padShare of the padding it asked
	// for was sent (the video kept coming).
	padShare = 0.5
)

// Probe verdicts, as the stats view shows them.
const (
	ProbePassed = "passed"
	ProbeFailed = "failed"
)

// Probes bounds the probing of a whole server: how many subscribers may
// be probed at once, and the padding rate one may be sent. It counts the
// probes for the metrics. A nil *Probes probes nobody.
type Probes struct {
	// maxRate is the most padding one subscriber is sent, bits per
	// second.
	maxRate float64
	// mu guards slots: the deadline (unix nanoseconds) of each probe
	// running; a slot whose deadline passed is free, so that one left
	// behind by a subscriber that went away frees itself.
	mu    sync.Mutex
	slots []int64

	started, passed, failed atomic.Uint64
}

// NewProbes allows max probes at once, each sending at most maxRate bits
// per second of padding; max 0 (or maxRate 0) turns probing off.
func NewProbes(max int, maxRate float64) *Probes {
	if max <= 0 || maxRate <= 0 {
		return nil
	}
	return &Probes{maxRate: maxRate, slots: make([]int64, max)}
}

// ProbeCounts are how many probes started, passed and failed.
type ProbeCounts struct {
	Started, Passed, Failed uint64
}

// Counts is how many probes started, passed and failed so far.
func (p *Probes) Counts() ProbeCounts {
	if p == nil {
		return ProbeCounts{}
	}
	return ProbeCounts{Started: p.started.Load(), Passed: p.passed.Load(), Failed: p.failed.Load()}
}

// acquire takes a free slot until until, or returns -1 when all are in
// use.
func (p *Probes) acquire(now, until int64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, d := range p.slots {
		if d <= now {
			p.slots[i] = until
			return i
		}
	}
	return -1
}

// release frees slot i, taken until until, unless it was taken again.
func (p *Probes) release(i int, until int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slots[i] == until {
		p.slots[i] = 0
	}
}

// probeRun is a probe running.
type probeRun struct {
	d   Flow
	pad Padder
	// start and until bound it; slot is its Probes slot.
	start, until int64
	slot         int
	// rate is what the subscriber receives during it, media and
	// padding, what layer (of the flow) needs; padRate the padding.
	rate, padRate float64
	layer         int
}

// proof is what a probe that passed showed: that the link takes layer of
// flow d.
type proof struct {
	d     Flow
	layer int
}

// ProbeStats tells the stats view about a subscriber's probing.
type ProbeStats struct {
	// Running is true while a probe runs; Rate is then what it sends
	// the subscriber, media and padding, bits per second.
	Running bool   `json:"running"`
	Rate    uint64 `json:"rate,omitempty"`
	// Last is the last probe's verdict (ProbePassed, ProbeFailed), ""
	// before the first.
	Last string `json:"last,omitempty"`
	// Started counts the subscriber's probes.
	Started uint64 `json:"started"`
}

// SetProbes lets the estimator probe within p's bounds (nil: never).
// Call it before the first flow is added.
func (e *Estimator) SetProbes(p *Probes) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.probes = p
}

// Probe tells how the subscriber is probed.
func (e *Estimator) Probe() ProbeStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := ProbeStats{Last: e.lastProbe, Started: e.probeCount}
	if e.probe != nil {
		s.Running, s.Rate = true, uint64(e.probe.rate)
	}
	return s
}

// startProbe starts probing for w's next layers: it pads w's flow so that
// the subscriber receives what the largest layer up to the one the view
// wants needs (within the padding cap), with headroom. It returns false
// when it could not start one.
func (e *Estimator) startProbe(now int64, w *want) bool {
	pad, ok := w.d.(Padder)
	if !ok {
		return false
	}
	var total float64
	for d := range e.flows {
		total += d.SendingRate()
	}
	cur := w.d.SendingRate()
	if cur <= 0 {
		return false // not sending: padding would prove nothing
	}
	// The largest layer whose padding fits the cap, and after failed
	// probes one layer lower for each, down to the next one up: a link
	// that cannot take the layer the view wants may take one between.
	// What each layer needs: its bitrate, but at least twice the one
	// below's. A layer nobody forwards is paused at the publisher, and
	// its bitrate is as it was measured last, often as it started: a
	// probe for that little passed on links that could not take the
	// layer.
	var need [maxProbeLayers]float64
	if len(w.layers) > len(need) {
		return false
	}
	for i, l := range w.layers {
		need[i] = float64(l)
		if i > 0 {
			need[i] = max(need[i], 2*need[i-1])
		}
	}
	var rate, padRate float64
	layer := -1
	for k := max(w.f.applied+1, w.desired-e.probeFails); k > w.f.applied; k-- {
		r := (total - cur + need[k]) / headroom
		if p := r - total; p <= e.probes.maxRate {
			rate, padRate, layer = r, p, k
			break
		}
	}
	if rate == 0 || padRate <= 0 {
		return false
	}
	until := now + probeMax
	slot := e.probes.acquire(now, until)
	if slot < 0 {
		return false
	}
	if !pad.Pad(padRate, until) {
		e.probes.release(slot, until)
		return false
	}
	e.probe = &probeRun{d: w.d, pad: pad, start: now, until: until, slot: slot, rate: rate, padRate: padRate, layer: layer}
	e.probeCount++
	e.probes.started.Add(1)
	e.log.Info("probe started", "track", w.d.ID(), "rate", int(rate), "padding", int(padRate), "estimate", int(e.estimate(now)))
	return true
}

// judgeProbe ends the running probe, if any, when what came at now
// decides it: bad says what showed the link full ("" for nothing),
// reported that a report of the probed flow came.
func (e *Estimator) judgeProbe(now int64, bad string, reported bool) {
	p := e.probe
	if p == nil {
		return
	}
	switch {
	case bad != "":
		e.endProbe(now, false, bad)
	case reported && now-p.start >= probeMin:
		want := padShare * p.padRate / 8 * float64(now-p.start) / float64(time.Second)
		if float64(p.pad.Padded()) < want {
			e.endProbe(now, false, "too little padding sent")
			return
		}
		e.endProbe(now, true, "")
	case now >= p.until:
		e.endProbe(now, false, "no report")
	}
}

// endProbe stops the probe's padding and applies its verdict: a probe
// that passed makes the rate probed the estimate and lets the caps rise at
// once; one that failed waits twice as long before the next.
func (e *Estimator) endProbe(now int64, passed bool, why string) {
	p := e.probe
	e.probe = nil
	p.pad.Pad(0, 0)
	e.probes.release(p.slot, p.until)
	e.heldSince = now
	if passed {
		e.probes.passed.Add(1)
		e.lastProbe = ProbePassed
		e.loss = max(e.loss, p.rate)
		e.grown, e.rembAt = now, 0
		e.proven = &proof{d: p.d, layer: p.layer}
		e.probeHold, e.probeFails = passHold, 0
		e.log.Info("probe passed", "track", p.d.ID(), "rate", int(p.rate), "took", time.Duration(now-p.start).String())
		return
	}
	e.probes.failed.Add(1)
	e.lossySince = 0 // the probe's own loss: no sign the media alone is too much
	e.lastProbe = ProbeFailed
	e.probeFailedAt = now
	if now-p.start < quickFail && e.probeFails == 0 {
		// Failed on the round trip or the REMB before the bottleneck's
		// queue overflowed: it cost little, so the next comes soon. Not
		// after failures before it: each probe adds to a queue that a
		// layer nearly filling the link drains slowly, and one every
		// two seconds would keep it from ever draining.
		e.probeHold = quickProbeHold
	} else {
		e.probeHold = min(max(2*e.probeHold, upHold), maxProbeHold)
	}
	e.probeFails++
	if e.loss > p.rate {
		// It grew without loss while the caps held; the link took less
		// than this.
		e.loss = p.rate
	}
	e.log.Info("probe failed", "track", p.d.ID(), "rate", int(p.rate), "why", why,
		"took", time.Duration(now-p.start).String(), "next", time.Duration(e.probeHold).String())
}

// cond is s when c holds, "" otherwise.
func cond(c bool, s string) string {
	if c {
		return s
	}
	return ""
}
