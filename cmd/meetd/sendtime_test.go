package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// TestForwardedVideoCarriesSendTime: a viewer that negotiates the
// abs-send-time header extension (as browsers do) gets every forwarded
// video packet stamped with the time meetd sent it, whether meetd's fast
// egress or pion's write path sends it; with -abs-send-time=false, none.
// A browser's REMB measures queueing delay from these stamps.
func TestForwardedVideoCarriesSendTime(t *testing.T) {
	for _, fast := range []bool{true, false} {
		for _, on := range []bool{true, false} {
			t.Run(fmt.Sprintf("fast-egress=%v/abs-send-time=%v", fast, on), func(t *testing.T) {
				checkLeaks(t)
				m := runMeetdEgress(t, Config{SFU: sfu.Config{AbsSendTime: on}}, fast)
				if fast && !m.api.FastEgress() {
					t.Skip("this pion version hides the SRTP keys: no fast egress")
				}
				url := "ws://" + m.Addr() + "/ws"
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				pub := goLive(t, ctx, url, "default", testclient.Options{})
				defer pub.Close()

				me := &webrtc.MediaEngine{}
				if err := me.RegisterDefaultCodecs(); err != nil {
					t.Fatal(err)
				}
				if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.ABSSendTimeURI},
					webrtc.RTPCodecTypeVideo); err != nil {
					t.Fatal(err)
				}
				api, err := testclient.NewAPIWith(testclient.Network{}, me, nil)
				if err != nil {
					t.Fatal(err)
				}
				var video, stamped, wrong atomic.Int64
				onTrack := func(tr *webrtc.TrackRemote) {
					for {
						pkt, _, err := tr.ReadRTP()
						if err != nil {
							return
						}
						if tr.Kind() != webrtc.RTPCodecTypeVideo {
							continue
						}
						video.Add(1)
						for _, id := range pkt.GetExtensionIDs() {
							ext := pkt.GetExtension(id)
							if len(ext) != 3 {
								continue
							}
							stamped.Add(1)
							if !nearNow(ext, time.Now()) {
								wrong.Add(1)
							}
						}
					}
				}
				v := dial(t, ctx, url, testclient.Options{API: api, OnTrack: onTrack})
				defer v.Close()
				join(t, ctx, v, "default", signal.RoleAudience)
				waitUntil(t, ctx, "100 video packets", func() bool { return video.Load() >= 100 })
				n, s := video.Load(), stamped.Load()
				switch {
				case on && s < n:
					t.Errorf("%d of %d video packets carried a send time, want all", s, n)
				case !on && s != 0:
					t.Errorf("%d of %d video packets carried a send time with -abs-send-time=false", s, n)
				}
				if w := wrong.Load(); w != 0 {
					t.Errorf("%d send times more than 2 s from the time the packet came", w)
				}
			})
		}
	}
}

// nearNow says whether the abs-send-time stamp ext (6.18 fixed point
// seconds, 24 bits, wrapping every 64 s) is within 2 s of now.
func nearNow(ext []byte, now time.Time) bool {
	got := uint32(ext[0])<<16 | uint32(ext[1])<<8 | uint32(ext[2])
	want := uint32((uint64(now.UnixNano())<<18)/uint64(time.Second)) & 0xffffff
	diff := int32((want-got)<<8) >> 8 // signed, modulo 2^24
	if diff < 0 {
		diff = -diff
	}
	return diff < 2<<18
}
