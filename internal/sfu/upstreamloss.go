package sfu

import (
	"maps"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Viewers' loss told to the publisher, for audio.
//
// A browser sets its Opus encoder's expected loss from the fraction lost
// in the receiver reports it gets, and adds in-band FEC (the previous
// frame again, at a lower rate) only when that is above zero. meetd's
// receiver reports, made by pion's report interceptor, tell the loss
// between the publisher and meetd: on a clean uplink none, so a viewer
// behind a lossy link got no FEC to repair its loss with. So the report
// of an audio stream says the worst loss its subscribers reported, when
// that is more. Video is left alone: its loss is repaired hop by hop
// (NACKs to meetd's cache), and a publisher told of a viewer's loss would
// lower its bitrate for everyone; meetd picks each viewer's layer instead.

// viewerLossAge is how long a subscriber's report of loss counts: a
// viewer who stopped reporting (or left) no longer sets the publisher's
// FEC. Browsers report audio every 5 s or so (2.5 to 7.5 s, randomised),
// so it spans two of their reports.
const viewerLossAge = 15 * time.Second

// viewersLoss is the largest fraction lost (of 256) in t's subscribers'
// last receiver reports of less than viewerLossAge before now (unix
// nanoseconds).
func (t *Track) viewersLoss(now int64) uint8 {
	var worst uint32
	for _, d := range *t.downs.Load() {
		if at := d.report.at.Load(); at == 0 || now-at > int64(viewerLossAge) {
			continue
		}
		worst = max(worst, d.report.lost.Load())
	}
	return uint8(min(worst, 255))
}

// reportViewersLoss makes the receiver reports of the stream ssrc carry
// the loss of t's subscribers, until forgetViewersLoss. t is an audio
// track of the connection.
func (in *Ingress) reportViewersLoss(ssrc uint32, t *Track) {
	if in == nil || t.kind != webrtc.RTPCodecTypeAudio {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	m := maps.Clone(*in.audio.Load())
	m[ssrc] = t
	in.audio.Store(&m)
}

// forgetViewersLoss undoes reportViewersLoss.
func (in *Ingress) forgetViewersLoss(ssrc uint32, t *Track) {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	m := maps.Clone(*in.audio.Load())
	if m[ssrc] == t {
		delete(m, ssrc)
	}
	in.audio.Store(&m)
}

// viewersLossWriter is the RTCP writer the connection's interceptors
// write to: it raises the fraction lost of audio streams' receiver
// reports to their subscribers' (see reportViewersLoss).
type viewersLossWriter struct {
	in   *Ingress
	next interceptor.RTCPWriter
}

func (w viewersLossWriter) Write(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
	if audio := *w.in.audio.Load(); len(audio) > 0 {
		now := time.Now().UnixNano()
		for _, p := range pkts {
			rr, ok := p.(*rtcp.ReceiverReport)
			if !ok {
				continue
			}
			// pion's report interceptor makes a new report each time:
			// it is meetd's to change.
			for i := range rr.Reports {
				r := &rr.Reports[i]
				if t := audio[r.SSRC]; t != nil {
					r.FractionLost = max(r.FractionLost, t.viewersLoss(now))
				}
			}
		}
	}
	return w.next.Write(pkts, a)
}
