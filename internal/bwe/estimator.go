// Package bwe estimates a subscriber's downlink from the RTCP it sends
// anyway (receiver reports, REMB) and shares it among the streams it
// receives, capping the simulcast layer of each so that all of them fit.
package bwe

import (
	"log/slog"
	"math"
	"sync"
	"time"
)

// Flow is one stream a subscriber receives, as the estimator sees it: a
// down track.
type Flow interface {
	// ID names the flow in logs.
	ID() string
	// SendingRate is about what the flow sends now, bits per second.
	SendingRate() float64
	// LayerRates appends to dst the bitrates of the flow's layers,
	// smallest first, and returns them with the index of the layer its
	// viewer wants (-1: the video is not shown). adaptive is false for a
	// flow the estimator cannot cap (audio, a video of one encoding),
	// which counts as the sum of its layers.
	LayerRates(dst []uint64) (rates []uint64, wanted int, adaptive bool)
	// CapLayer caps the flow at the layer of index i, or lifts the cap
	// (NoCap).
	CapLayer(i int)
}

// NoCap is a flow's cap when its bandwidth allows any layer.
const NoCap = -1

// Estimator estimates one subscriber's downlink, shared by the flows of
// its subscribe connection, and caps the simulcast layer each forwards
// so that all of them fit.
//
// It works from what every client sends anyway: the receiver reports'
// fraction lost for each stream, weighed by the rate meetd sent it, and
// REMB when the client sends it (browsers do when transport-wide
// congestion control is not used on the stream; meetd forwards without
// that header extension). Losing more than 10% in reports a second
// apart means the link carries about what got through: the estimate
// falls to that. One lossy report alone (a burst, a busy receiver) does
// not move it. Losing under 2% lets it grow by 15% a second.
//
// A browser's REMB (a receive-side estimate) grows only with what it
// receives, a few percent a second: below what meetd sends, it may just
// lag behind a step up. And it falls for jitter alone when the browser or
// its machine is busy, with abs-send-time too (meetd stamps it: the REMB
// then measures delay, not RTP timestamps): on a loaded machine a REMB
// allowed to bound without loss held viewers of a clear link at 50-180
// kbit/s (docs/performance.md, bad networks). So it bounds the estimate only while the reports
// show loss (2% or more), once it falls under what meetd sends, and from
// then on while it stays under that; a REMB at or above what meetd sends,
// or reports without loss, end the bound, so that a viewer held on a
// small layer can still step up.
// Send-side estimation from transport-wide feedback (pion's gcc) would
// need a sequence number in every packet sent and a pacer per
// subscriber: more per-packet work than meetd's load targets leave room
// for. This reads RTCP about once a second per stream; the per-packet
// work is a byte count per packet received: the rate sent to a
// subscriber is taken to be the bitrate of the layer it gets.
//
// Layers go down as soon as the estimate falls, and up only after it
// has allowed more for upHold; a step up that is followed by a step
// down within probeWindow doubles upHold, up to maxUpHold, so that a
// subscriber on a link that cannot take the next layer does not try it
// every few seconds. With probing (SetProbes, probe.go) a video held below
// the layer its view wants steps up only after a probe of the link passed,
// and then at once, as far as the rate probed allows.
type Estimator struct {
	// mu guards everything below. Lock order: Estimator.mu before the
	// locks a Flow's methods take.
	mu    sync.Mutex
	flows map[Flow]*flow
	// loss is the loss-based estimate in bits per second, 0 until the
	// first loss; grown is when it last grew.
	loss  float64
	grown int64
	// lossySince is when the reports first said congested, 0 while they
	// do not; lost is the fraction the last reports said lost.
	lossySince int64
	lost       float64
	// rembRate is the subscriber's REMB that bounds the estimate,
	// received at rembAt; rembAt is 0 while none does. rembLast is the
	// last REMB.
	rembRate, rembLast float64
	rembAt             int64
	// upSince is when the caps were first found too low, 0 while they
	// are not; upAt is when they were last raised.
	upSince, upAt int64
	hold          int64
	// trial is a REMB acted on before loss confirms it (remb_trial.go).
	trial rembTrial
	// nacks are the subscriber's recent reports of lost packets (nack.go).
	nacks nackLog
	log   *slog.Logger
	// probes bounds probing (probe.go), nil for none; probe is the probe
	// running, nil while none is. heldSince is when a video was first
	// found capped below the layer its view wants, 0 while none is;
	// probeHold is how long after that the next probe starts; probeFails
	// counts the probes failed since one passed. proven is the flow and
	// layer a probe that passed showed the link takes, until its cap
	// rises. lastProbe and probeCount are for
	// the stats view.
	probes     *Probes
	probe      *probeRun
	heldSince  int64
	probeHold  int64
	probeFails int
	proven     *proof
	lastProbe  string
	probeCount uint64
	// probeFailedAt is when a probe last failed (0: none has).
	probeFailedAt int64
	// rates is allocate's space for the flows' layer rates.
	rates []uint64
}

// flow is what the estimator knows of one down track at its last report.
type flow struct {
	at   int64   // when it came
	rate float64 // what meetd was sending, bits per second
	lost float64 // the fraction lost it reported
	// applied is the cap given to the flow (NoCap: none).
	applied int
}

// Estimator settings.
const (
	// headroom is the share of the estimate meetd fills.
	headroom = 0.85
	// congested and clear are the fractions lost above which the
	// estimate falls and under which it grows.
	congested = 0.10
	clear     = 0.02
	growth    = 1.15 // a second
	// A REMB that fell under rembFall of the last one, to under rembFull
	// of what meetd sends, says the link is full.
	rembFall = 0.95
	rembFull = 0.9
	// Loss counts as congestion once reports show it for confirmAfter:
	// two reports, about a second apart.
	confirmAfter = int64(700 * time.Millisecond)
	// maxEstimate bounds growth: far above any layer.
	maxEstimate = 50e6
	// A report or REMB older than staleAfter no longer counts.
	staleAfter  = int64(3 * time.Second)
	rembStale   = int64(5 * time.Second)
	upHold      = int64(3 * time.Second)
	maxUpHold   = int64(24 * time.Second)
	probeWindow = int64(5 * time.Second)
)

// NewEstimator makes the estimator of one subscribe connection.
func NewEstimator(log *slog.Logger) *Estimator {
	return &Estimator{flows: map[Flow]*flow{}, hold: upHold, probeHold: upHold, log: log}
}

// Add shares the estimate with f from now on.
func (e *Estimator) Add(f Flow) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flows[f] = &flow{applied: NoCap}
}

// Remove forgets f, a flow that no longer sends.
func (e *Estimator) Remove(f Flow) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.probe != nil && e.probe.d == f {
		e.endProbe(time.Now().UnixNano(), false, "flow removed")
	}
	delete(e.flows, f)
}

// Estimate is the subscriber's estimated downlink in bits per second, 0
// while there is none.
func (e *Estimator) Estimate() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return uint64(e.estimate(time.Now().UnixNano()))
}

func (e *Estimator) estimate(now int64) float64 {
	est := e.loss
	if e.rembAt != 0 && now-e.rembAt < rembStale && (est == 0 || e.rembRate < est) {
		est = e.rembRate
	}
	return est
}

// REMB notes the subscriber's REMB, received at now (unix nanoseconds).
func (e *Estimator) REMB(bitrate float32, now int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var sending float64
	for d := range e.flows {
		sending += d.SendingRate()
	}
	b := float64(bitrate)
	falling := e.rembLast > 0 && b < rembFall*e.rembLast
	e.rembLast = b
	e.log.Debug("REMB", "remb", int(b), "sending", int(sending))
	e.expireTrial(now)
	switch {
	case e.onTrial(now):
		e.trialREMB(b, now)
	case b >= rembFull*sending:
		e.rembAt = 0 // the link takes what meetd sends
	case e.lost >= clear && (falling || e.rembAt != 0):
		e.rembRate, e.rembAt = b, now
	default:
		e.beginTrial(b, sending, falling, now) // remb_trial.go
	}
	e.judgeProbe(now, cond(falling, "the REMB fell"), false)
	e.allocate(now)
}

// Report notes the fraction lost (of 256) that the subscriber reports for
// d's stream at now (unix nanoseconds).
func (e *Estimator) Report(d Flow, fractionLost uint8, now int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.flows[d]
	if f == nil {
		return
	}
	f.at, f.rate, f.lost = now, d.SendingRate(), float64(fractionLost)/256
	e.update(now)
	e.judgeProbe(now, cond(f.lost >= clear, "a report showed loss"), e.probe != nil && e.probe.d == d)
	e.allocate(now)
}

// update moves the loss-based estimate after a report.
func (e *Estimator) update(now int64) {
	var rate, lost float64
	for _, f := range e.flows {
		if now-f.at < staleAfter {
			rate += f.rate
			lost += f.rate * f.lost
		}
	}
	if rate <= 0 {
		return
	}
	p := lost / rate
	e.log.Debug("bandwidth report", "rate", int(rate), "lost", p, "estimate", int(e.loss))
	e.lost = p
	e.expireTrial(now)
	if e.onTrial(now) {
		e.trialReport(p, now)
	}
	if p < clear && !e.onTrial(now) {
		e.rembAt = 0
	}
	if p <= congested {
		e.lossySince = 0
	}
	switch {
	case p > congested:
		if e.lossySince == 0 {
			e.lossySince = now
		}
		if now-e.lossySince < confirmAfter {
			e.grown = now
			return
		}
		if got := rate * (1 - p); e.loss == 0 || got < e.loss {
			e.loss = got
		}
	case p < clear && e.loss > 0:
		e.loss = min(e.loss*math.Pow(growth, float64(now-e.grown)/float64(time.Second)), maxEstimate)
	}
	e.grown = now
}

// want is one flow's share in an allocation.
type want struct {
	d Flow
	f *flow
	// layers are the flow's layers' bitrates, from start in rates.
	start, n int
	layers   []uint64
	// desired is the index of the layer the view asks for; alloc the one
	// the budget allows.
	desired, alloc int
}

// allocate shares the estimate among the down tracks: audio first, then
// every shown video at its smallest layer, then one layer up at a time,
// round robin, while the budget lasts. It applies lower caps at once and
// higher ones after upHold.
func (e *Estimator) allocate(now int64) {
	est := e.estimate(now)
	budget := headroom * est
	var video []want
	rates := e.rates[:0]
	for d, f := range e.flows {
		start := len(rates)
		var wanted int
		var adaptive bool
		rates, wanted, adaptive = d.LayerRates(rates)
		ls := rates[start:]
		if !adaptive || len(ls) == 0 {
			for _, r := range ls {
				budget -= float64(r)
			}
			continue
		}
		w := want{d: d, f: f, start: start, n: len(ls), desired: wanted}
		if w.desired >= 0 {
			budget -= float64(ls[0])
		}
		video = append(video, w)
	}
	e.rates = rates
	for i := range video {
		w := &video[i]
		w.layers = rates[w.start : w.start+w.n]
	}
	for more := true; more; {
		more = false
		for i := range video {
			w := &video[i]
			if w.alloc >= w.desired {
				continue
			}
			step := float64(w.layers[w.alloc+1]) - float64(w.layers[w.alloc])
			if est == 0 || step <= budget { // no estimate: no bound
				budget -= step
				w.alloc++
				more = true
			}
		}
	}
	var ups []*want
	down := false
	for i := range video {
		w := &video[i]
		c := w.alloc
		if w.alloc >= w.desired {
			c = NoCap
		}
		switch {
		case capBelow(c, w.f.applied):
			e.log.Info("layer cap lowered", "track", w.d.ID(), "cap", c, "estimate", int(est))
			w.f.applied = c
			w.d.CapLayer(c)
			down = true
		case capBelow(w.f.applied, c):
			ups = append(ups, w)
		}
	}
	if down {
		if e.upAt != 0 && now-e.upAt < probeWindow {
			e.hold = min(2*e.hold, maxUpHold) // the last step up did not fit
			e.probeHold = min(max(2*e.probeHold, upHold), maxProbeHold)
		}
		e.upAt = 0
	} else if e.upAt != 0 && now-e.upAt >= probeWindow {
		e.hold, e.upAt = upHold, 0 // it did
	}
	if e.probes != nil && e.probeFirst(now, video, down) {
		return
	}
	if len(ups) == 0 {
		e.upSince, e.proven = 0, nil
		return
	}
	if e.upSince == 0 {
		e.upSince = now
	}
	if now-e.upSince < e.hold && e.proven == nil {
		return
	}
	for _, w := range ups {
		// One layer up at a time: the estimate grows without proof that
		// the link takes more, so each step is a trial; after a probe
		// that passed, the probed flow up to the layer probed.
		c := w.alloc
		switch {
		case e.proven != nil:
			if w.d != e.proven.d {
				continue
			}
			c = min(c, e.proven.layer)
		case w.f.applied != NoCap:
			c = min(c, w.f.applied+1)
		}
		if c >= w.desired {
			c = NoCap
		}
		e.log.Info("layer cap raised", "track", w.d.ID(), "cap", c, "estimate", int(est))
		w.f.applied = c
		w.d.CapLayer(c)
	}
	e.upSince, e.upAt, e.proven = 0, now, nil
}

// probeFirst probes before a step up when a video is capped below the
// layer its view wants: it reports true while a probe runs or the next
// one waits, so that allocate does not step up without one, and false
// when no probe can be made (the caps then rise as without probing).
func (e *Estimator) probeFirst(now int64, video []want, down bool) bool {
	if e.proven != nil {
		return false // a probe passed: the caps rise now
	}
	var held *want
	for i := range video {
		w := &video[i]
		if w.desired >= 0 && w.f.applied != NoCap && w.f.applied < w.desired && w.d.SendingRate() > 0 {
			held = w
			break
		}
	}
	switch {
	case held == nil:
		e.heldSince = 0
		return e.probe != nil
	case e.probe != nil:
		return true
	case down || e.heldSince == 0:
		e.heldSince = now
		return true
	case now-e.heldSince < e.probeHold || e.lost >= clear || e.lossySince != 0:
		return true
	}
	return e.startProbe(now, held)
}

// capBelow reports whether cap a allows less than cap b.
func capBelow(a, b int) bool {
	return a != NoCap && (b == NoCap || a < b)
}
