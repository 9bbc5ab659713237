package sfu

import (
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// SenderClock is what a publisher's last sender report said of one
// stream: its RTP timestamp RTP was sampled at NTP by the publisher's
// wall clock. All the streams of a publisher share that clock, which is
// how a recording lines its audio up with its video whatever the network
// did to either on the way.
type SenderClock struct {
	RTP uint32
	NTP time.Time
}

// SenderClock is the last sender report of the publisher's stream ssrc
// (one of the track's layers); false before one came.
func (t *Track) SenderClock(ssrc uint32) (SenderClock, bool) {
	for _, l := range *t.layers.Load() {
		if l.ssrc == ssrc {
			if c := l.senderClock.Load(); c != nil {
				return *c, true
			}
			return SenderClock{}, false
		}
	}
	return SenderClock{}, false
}

// readRTCP reads the RTCP a publisher sends about layer l (of the
// simulcast layer rid, or of the receiver's only track), so that the
// receiver's interceptors see it, and keeps l's sender reports.
func readRTCP(r *webrtc.RTPReceiver, l *layer) {
	buf := make([]byte, 1500)
	for {
		var n int
		var err error
		if l.rid != "" {
			n, _, err = r.ReadSimulcast(buf, l.rid)
		} else {
			n, _, err = r.Read(buf)
		}
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == l.ssrc {
				l.senderClock.Store(&SenderClock{RTP: sr.RTPTime, NTP: fromNTP(sr.NTPTime)})
			}
		}
	}
}

// fromNTP is a 64-bit NTP timestamp as a time.
func fromNTP(ntp uint64) time.Time {
	sec := int64(ntp>>32) + ntpEpoch
	nsec := int64((ntp & 0xffffffff) * uint64(time.Second) >> 32)
	return time.Unix(sec, nsec)
}
