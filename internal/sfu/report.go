package sfu

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
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
type Reporter struct {
	write func([]rtcp.Packet) error
	// mu guards downs.
	mu    sync.Mutex
	downs map[*DownTrack]struct{}
	stop  chan struct{}
	done  chan struct{}
}

// NewReporter starts sending reports with write, which is a peer
// connection's WriteRTCP, until Close.
func NewReporter(write func([]rtcp.Packet) error) *Reporter {
	r := &Reporter{write: write, downs: map[*DownTrack]struct{}{}, stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// Add reports d from now on.
func (r *Reporter) Add(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.downs[d] = struct{}{}
}

// Remove stops reporting d.
func (r *Reporter) Remove(d *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.downs, d)
}

// Close stops the reports and waits until they have.
func (r *Reporter) Close() {
	close(r.stop)
	<-r.done
}

func (r *Reporter) run() {
	defer close(r.done)
	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	var pkts []rtcp.Packet
	for {
		select {
		case <-r.stop:
			return
		case now := <-tick.C:
			pkts = r.reports(pkts[:0], now)
			if len(pkts) > 0 {
				// An error means the connection is closing: the client
				// closes the reporter then.
				_ = r.write(pkts)
			}
		}
	}
}

// reports appends a sender report for each down track that sends.
func (r *Reporter) reports(pkts []rtcp.Packet, now time.Time) []rtcp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range r.downs {
		if sr, ok := d.senderReport(now); ok {
			pkts = append(pkts, sr)
		}
	}
	return pkts
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
