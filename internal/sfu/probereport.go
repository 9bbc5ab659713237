package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// While a down track pads for a probe, its subscriber gets a sender report
// of it every probeReportInterval instead of every second. The round trip
// a receiver report gives is that of the last sender report it names:
// with one a second, the queue a probe fills showed in the round trip only
// after the queue had overflowed (a drop-tail queue of 400 ms fills in
// about 0.6 s on a link that cannot take the probe). Chromium sends a
// receiver report with each REMB, about five a second, so with sender
// reports ten a second the estimator sees the round trip grow within a
// couple of hundred milliseconds (bwe: a grown round trip fails a probe).
const probeReportInterval = 100 * time.Millisecond

// probeReports are the down tracks padding now, with the Reporter of
// each, for the report clock's quick ticks.
type probeReports struct {
	mu    sync.Mutex
	downs map[*DownTrack]*Reporter
}

// add reports d, through r, every probeReportInterval while it pads.
func (p *probeReports) add(d *DownTrack, r *Reporter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.downs == nil {
		p.downs = map[*DownTrack]*Reporter{}
	}
	p.downs[d] = r
}

// send sends the reports of the down tracks still padding at now, and
// forgets the others.
func (p *probeReports) send(now time.Time, sb *sealBuf) {
	p.mu.Lock()
	if len(p.downs) == 0 {
		p.mu.Unlock()
		return
	}
	type one struct {
		d *DownTrack
		r *Reporter
	}
	var sends []one
	for d, r := range p.downs {
		if !d.probing.Load() {
			delete(p.downs, d)
			continue
		}
		sends = append(sends, one{d, r})
	}
	p.mu.Unlock()
	for _, s := range sends {
		if sr, ok := s.d.senderReport(now); ok {
			s.r.sendPackets([]rtcp.Packet{sr}, sb)
		}
	}
}
