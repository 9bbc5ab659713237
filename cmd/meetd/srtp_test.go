package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// TestViewerPlaysAcrossSequenceWrap: when a stream's 16-bit sequence
// numbers wrap, meetd's SRTP rollover counter follows (about every nine
// minutes of a 1.2 Mbit/s camera), so the viewer still decrypts what
// comes after.
func TestViewerPlaysAcrossSequenceWrap(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// Small VP8 frames of two packets every 2 ms, starting 3,000 packets
	// before the wrap: it comes about 3 s after the stream starts.
	const start = 65535 - 3000
	fast := func(ctx context.Context, _, video *webrtc.TrackLocalStaticRTP, keyframeRequested func() bool) {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		seq, ts := uint16(start), uint32(0)
		payload := make([]byte, 200)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ts += 180
			key := keyframeRequested()
			for i := range 2 {
				p := append([]byte(nil), payload...)
				if i == 0 {
					p[0] = 0x10 // VP8 descriptor: start of partition 0
				}
				p[1] = 0x01 // an interframe
				if key {
					p[1] = 0x00
				}
				_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: i == 1}, Payload: p})
				seq++
			}
		}
	}

	// The viewer counts the video packets it decrypts before and after
	// the wrap.
	var before, after atomic.Int64
	viewer := dial(t, ctx, url, testclient.Options{OnTrack: func(tr *webrtc.TrackRemote) {
		var prev uint16
		seen, wrapped := false, false
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if tr.Kind() != webrtc.RTPCodecTypeVideo {
				continue
			}
			seq := pkt.SequenceNumber
			if seen && prev >= 0xf000 && seq < 0x1000 {
				wrapped = true
			}
			if wrapped {
				after.Add(1)
			} else {
				before.Add(1)
			}
			prev, seen = seq, true
		}
	}})
	defer viewer.Close()
	join(t, ctx, viewer, "wrap", signal.RoleAudience)

	pub := goLive(t, ctx, url, "wrap", testclient.Options{Media: fast})
	defer pub.Close()

	waitUntil(t, ctx, "video after the sequence numbers wrapped", func() bool {
		return after.Load() >= 500
	})
	t.Logf("viewer: %d video packets before the wrap, %d after", before.Load(), after.Load())
}
