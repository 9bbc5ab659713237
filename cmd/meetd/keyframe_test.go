package main

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/testclient"
)

// TestKeyframeRequestsAreRateLimited: however many viewers ask for
// keyframes, and however often, meetd asks the publisher at most twice a
// second per layer (README: keyframe requests), and does ask.
func TestKeyframeRequestsAreRateLimited(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "plis", testclient.Options{})
	defer pub.Close()
	viewers := joinAudience(t, ctx, url, "plis", 6)

	// Every viewer asks for a keyframe every 20 ms for 3 s: 900 requests.
	const (
		perSecond = 2 // at most, per layer
		burst     = 2 // the first at once, and one in flight at the end
	)
	start, before := time.Now(), pub.KeyframeRequests()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 150 {
		<-tick.C
		for _, v := range viewers {
			pli := &rtcp.PictureLossIndication{MediaSSRC: v.Stats(webrtc.RTPCodecTypeVideo).SSRC}
			if err := v.SendRTCP(pli); err != nil {
				t.Fatal(err)
			}
		}
	}
	asked := pub.KeyframeRequests() - before
	elapsed := time.Since(start)
	t.Logf("the publisher was asked for %d keyframes in %v", asked, elapsed.Round(time.Millisecond))
	if most := int64(elapsed.Seconds()*perSecond) + burst; asked > most {
		t.Errorf("the publisher was asked for %d keyframes in %v, want at most %d", asked, elapsed.Round(time.Millisecond), most)
	}
	if asked < int64(elapsed.Seconds()) {
		t.Errorf("the publisher was asked for %d keyframes in %v, while viewers asked all along", asked, elapsed.Round(time.Millisecond))
	}
}
