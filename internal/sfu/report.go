package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/udpbatch"
)

// reportInterval is how often a subscriber gets a sender report of each
// stream, as pion's report interceptor sends them.
const reportInterval = time.Second

// Reporter sends the RTCP sender reports of one subscribe connection's
// down tracks, once a second. Browsers need them to play a stream's audio
// and video in sync: a report maps the stream's RTP clock to wall-clock
// time. pion's report interceptor would do the same by locking and
// updating each stream's state on every packet sent to every subscriber;
// here a layer's read loop notes its clock once per packet received, and
// each down track counts what it sends.
//
// One clock of the API's sends the reports of all its connections in one
// go (a timer per connection woke the server for each), through each
// connection's Egress: those on a shared socket leave in batched sends.
type Reporter struct {
	clock *reportClock
	// write is the connection's WriteRTCP, for when egress cannot send.
	write  func([]rtcp.Packet) error
	egress *Egress
	// mu guards downs.
	mu    sync.Mutex
	downs map[*DownTrack]struct{}
}

// NewReporter starts sending the reports of a subscribe connection
// through e, or write (its WriteRTCP) when e is nil or cannot, until
// Close.
func (a *API) NewReporter(e *Egress, write func([]rtcp.Packet) error) *Reporter {
	return a.reports.newReporter(e, write)
}

// Add reports d from now on.
func (r *Reporter) Add(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.downs[d] = struct{}{}
	d.reporter.Store(r)
}

// Remove stops reporting d.
func (r *Reporter) Remove(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.downs, d)
	d.reporter.CompareAndSwap(r, nil)
}

// Close stops the reports. One the clock is making as Close is called
// may still go out (or fail, on a closed connection).
func (r *Reporter) Close() { r.clock.remove(r) }

// send sends the connection's reports at now; sb is the clock's space to
// encrypt in.
func (r *Reporter) send(now time.Time, sb *sealBuf) {
	var pkts []rtcp.Packet
	r.mu.Lock()
	for d := range r.downs {
		if sr, ok := d.senderReport(now); ok {
			pkts = append(pkts, sr)
		}
	}
	r.mu.Unlock()
	r.sendPackets(pkts, sb)
}

// sendPackets sends reports pkts through the connection's egress, or
// through pion when the egress cannot.
func (r *Reporter) sendPackets(pkts []rtcp.Packet, sb *sealBuf) {
	if len(pkts) == 0 {
		return
	}
	if r.egress != nil && r.egress.fast != nil {
		raw, err := rtcp.Marshal(pkts)
		if err != nil {
			return
		}
		if _, ok, _ := r.egress.fast.WriteRTCP(raw, sb[:]); ok {
			// An error means the connection is closing: the client
			// closes the reporter then.
			return
		}
	}
	_ = r.write(pkts)
}

// reportClock sends the reports of an API's Reporters every
// reportInterval. Its goroutine runs while there are any.
type reportClock struct {
	batch *udpbatch.Sockets
	// mu guards reporters and stop. It is not held while reports are
	// sent: a write can block (a TCP connection whose buffer is full),
	// and closing that connection must not wait for it.
	mu        sync.Mutex
	reporters map[*Reporter]struct{}
	// probing are the down tracks reported quicker while they pad.
	probing probeReports
	// stop stops the goroutine, nil while none runs; done closes when it
	// has.
	stop, done chan struct{}
}

func (c *reportClock) newReporter(e *Egress, write func([]rtcp.Packet) error) *Reporter {
	r := &Reporter{clock: c, write: write, egress: e, downs: map[*DownTrack]struct{}{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reporters == nil {
		c.reporters = map[*Reporter]struct{}{}
	}
	c.reporters[r] = struct{}{}
	if c.stop == nil {
		c.stop, c.done = make(chan struct{}), make(chan struct{})
		go c.run(c.stop, c.done)
	}
	return r
}

// remove stops reporting r; the last one out stops the goroutine.
func (c *reportClock) remove(r *Reporter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.reporters, r)
	if len(c.reporters) == 0 && c.stop != nil {
		close(c.stop)
		c.stop, c.done = nil, nil
	}
}

func (c *reportClock) run(stop, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	quick := time.NewTicker(probeReportInterval)
	defer quick.Stop()
	sb := new(sealBuf)
	var rs []*Reporter
	for {
		select {
		case <-stop:
			return
		case now := <-quick.C:
			c.batch.Begin()
			c.probing.send(now, sb)
			c.batch.End()
		case now := <-tick.C:
			rs = rs[:0]
			c.mu.Lock()
			for r := range c.reporters {
				rs = append(rs, r)
			}
			c.mu.Unlock()
			c.batch.Begin()
			for _, r := range rs {
				r.send(now, sb)
			}
			c.batch.End()
			for i := range rs {
				rs[i] = nil // keep no closed connection alive
			}
		}
	}
}

// senderReport is d's sender report at now; false while d sends nothing.
func (d *DownTrack) senderReport(now time.Time) (*rtcp.SenderReport, bool) {
	b := wire(d.wire.Load())
	packets := d.packets.Load() + d.retransmits.Load()
	if b == 0 || packets == 0 {
		return nil, false
	}
	var l *layer
	var tsOffset uint32
	if d.track.kind == webrtc.RTPCodecTypeVideo {
		sp, cur := d.sent.Load(), d.current.Load()
		if sp == nil || cur == nil || sp.layer != cur {
			return nil, false // no video now, or switching layers
		}
		l, tsOffset = cur, sp.off.ts
	} else {
		// Audio is forwarded with the publisher's timestamps.
		l = (*d.track.layers.Load())[0]
	}
	ts, at := l.clock()
	if at == 0 {
		return nil, false
	}
	elapsed := now.UnixNano() - at
	rtpTime := ts + tsOffset + uint32(elapsed*int64(d.track.codec.ClockRate)/int64(time.Second))
	return &rtcp.SenderReport{
		SSRC:        b.ssrc(),
		NTPTime:     ntpTime(now),
		RTPTime:     rtpTime,
		PacketCount: uint32(packets),
		OctetCount:  uint32(d.octets.Load()),
	}, true
}

// noteClock notes the RTP timestamp of a packet of l that arrived at now
// (unix nanoseconds). It runs on l's read loop.
func (l *layer) noteClock(ts uint32, now int64) {
	l.clockMu.Lock()
	l.clockTS, l.clockAt = ts, now
	l.clockMu.Unlock()
}

// clock is the RTP timestamp of l's last packet and when it arrived (0:
// none yet).
func (l *layer) clock() (uint32, int64) {
	l.clockMu.Lock()
	defer l.clockMu.Unlock()
	return l.clockTS, l.clockAt
}

// ntpEpoch is the NTP epoch, 1 January 1900, in Unix seconds.
const ntpEpoch = -2208988800

// ntpTime is t as a 64-bit NTP timestamp: seconds since 1900 and a
// binary fraction of a second.
func ntpTime(t time.Time) uint64 {
	sec := uint64(t.Unix() - ntpEpoch)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return sec<<32 | frac
}
