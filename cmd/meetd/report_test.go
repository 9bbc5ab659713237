package main

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// TestViewerGetsSenderReports: a viewer gets sender reports of both
// streams, whose RTP clocks advance with wall-clock time and whose counts
// grow, as browsers need to play audio and video in sync.
func TestViewerGetsSenderReports(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type report struct {
		kind webrtc.RTPCodecType
		sr   rtcp.SenderReport
	}
	reports := make(chan report, 16)
	v := dial(t, ctx, url, testclient.Options{OnSenderReport: func(k webrtc.RTPCodecType, sr *rtcp.SenderReport) {
		select {
		case reports <- report{k, *sr}:
		default:
		}
	}})
	defer v.Close()
	join(t, ctx, v, "default", signal.RoleAudience)
	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	waitMedia(t, ctx, "viewer", v)

	clockRate := map[webrtc.RTPCodecType]float64{webrtc.RTPCodecTypeAudio: 48000, webrtc.RTPCodecTypeVideo: 90000}
	first := map[webrtc.RTPCodecType]rtcp.SenderReport{}
	checked := map[webrtc.RTPCodecType]bool{}
	for len(checked) < 2 {
		var r report
		select {
		case r = <-reports:
		case <-ctx.Done():
			t.Fatalf("sender reports checked for %v only", checked)
		}
		prev, ok := first[r.kind]
		if !ok {
			first[r.kind] = r.sr
			continue
		}
		wall := float64(r.sr.NTPTime-prev.NTPTime) / (1 << 32)
		media := float64(r.sr.RTPTime-prev.RTPTime) / clockRate[r.kind]
		if wall < 0.5 || media < 0.75*wall || media > 1.25*wall {
			t.Errorf("%s: RTP clock advanced %.3f s between reports %.3f s apart", r.kind, media, wall)
		}
		if r.sr.PacketCount <= prev.PacketCount || r.sr.OctetCount <= prev.OctetCount {
			t.Errorf("%s: counts went from %d packets, %d bytes to %d, %d", r.kind,
				prev.PacketCount, prev.OctetCount, r.sr.PacketCount, r.sr.OctetCount)
		}
		checked[r.kind] = true
	}
}
