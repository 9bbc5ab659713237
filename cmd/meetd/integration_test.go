package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

func TestBroadcastReachesEarlyAndLateViewers(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Three viewers wait before the stream starts: two of the web app's
	// kind and one like the original viewer page, which never sends join.
	viewers := map[string]*testclient.Client{}
	for _, name := range []string{"early-1", "early-2"} {
		v := dial(t, ctx, url, testclient.Options{})
		defer v.Close()
		join(t, ctx, v, "default", signal.RoleAudience)
		viewers[name] = v
	}
	plain := dial(t, ctx, url, testclient.Options{Plain: true})
	defer plain.Close()
	viewers["early-plain"] = plain

	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	for name, v := range viewers {
		waitMedia(t, ctx, name, v)
	}

	// Two arrive late, mid-GOP (the publisher sends a keyframe every 3 s,
	// about 200 packets): their first video packet must still be a
	// keyframe.
	early := viewers["early-1"].Stats(webrtc.RTPCodecTypeVideo).Packets
	if err := viewers["early-1"].WaitMedia(ctx, 0, early+90); err != nil {
		t.Fatal(err)
	}
	late := dial(t, ctx, url, testclient.Options{})
	defer late.Close()
	join(t, ctx, late, "default", signal.RoleAudience)
	latePlain := dial(t, ctx, url, testclient.Options{Plain: true})
	defer latePlain.Close()
	viewers["late"], viewers["late-plain"] = late, latePlain
	for name, v := range viewers {
		waitMedia(t, ctx, name, v)
		video := v.Stats(webrtc.RTPCodecTypeVideo)
		if len(video.FirstIsKeyframe) != 1 || !video.FirstIsKeyframe[0] {
			t.Errorf("%s: first video packet per connection is a keyframe: %v", name, video.FirstIsKeyframe)
		}
		if errs := v.Errors(); len(errs) > 0 {
			t.Errorf("%s: errors: %+v", name, errs)
		}
	}
	if pub.KeyframeRequests() == 0 {
		t.Error("the publisher was never asked for a keyframe")
	}
	err := pub.Wait(ctx, "5 viewers", func() bool {
		st, ok := pub.LastState()
		return ok && *st.Live && *st.Viewers == 5
	})
	if err != nil {
		st, _ := pub.LastState()
		t.Errorf("%v: last state %+v", err, st)
	}

	// A viewer leaving disturbs nobody.
	viewers["early-1"].Close()
	delete(viewers, "early-1")
	before := map[string]int{}
	for name, v := range viewers {
		before[name] = v.Stats(webrtc.RTPCodecTypeVideo).Packets
	}
	for name, v := range viewers {
		if err := v.WaitMedia(ctx, 0, before[name]+30); err != nil {
			t.Errorf("%s after a viewer left: %v", name, err)
		}
		expectNoLoss(t, name, v)
	}
}

func TestBroadcastEndsAndStartsAgain(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	viewer := dial(t, ctx, url, testclient.Options{})
	defer viewer.Close()
	join(t, ctx, viewer, "show", signal.RoleAudience)
	plain := dial(t, ctx, url, testclient.Options{Plain: true})
	defer plain.Close()

	// An original streamer page publishes into the default broadcast; the
	// named broadcast "show" is separate.
	first := dial(t, ctx, url, testclient.Options{Plain: true})
	if err := first.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	waitMedia(t, ctx, "plain viewer", plain)
	if n := viewer.Stats(webrtc.RTPCodecTypeVideo).Packets; n != 0 {
		t.Errorf("a viewer of another broadcast received %d video packets", n)
	}

	show := dial(t, ctx, url, testclient.Options{})
	defer show.Close()
	join(t, ctx, show, "show", signal.RoleStage)
	if err := show.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	waitMedia(t, ctx, "show viewer", viewer)
	show.Close()
	err := viewer.Wait(ctx, "ended", func() bool {
		st, ok := viewer.LastState()
		return ok && !*st.Live
	})
	if err != nil {
		t.Fatal(err)
	}

	// The default broadcast ends, and a new streamer starts it again: the
	// plain viewer gets a new offer and plays on.
	first.Close()
	waitUntil(t, ctx, "the default broadcast to end", func() bool {
		r := m.rooms.Get(room.Broadcast, "default")
		return r == nil || !r.Snapshot().Live
	})
	second := dial(t, ctx, url, testclient.Options{Plain: true})
	defer second.Close()
	if err := second.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	packets := plain.Stats(webrtc.RTPCodecTypeVideo).Packets
	if err := plain.WaitMedia(ctx, 0, packets+30); err != nil {
		t.Fatal(err)
	}
	expectNoLoss(t, "plain viewer", plain)
	if n := plain.SubscribeConnections(); n != 2 {
		t.Errorf("plain viewer got %d subscribe connections, want 2", n)
	}
	if st := plain.Stats(webrtc.RTPCodecTypeVideo); len(st.FirstIsKeyframe) != 2 || !st.FirstIsKeyframe[1] {
		t.Errorf("restarted stream did not start at a keyframe: %v", st.FirstIsKeyframe)
	}
}

func TestSecondStreamerIsRefused(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	other := dial(t, ctx, url, testclient.Options{})
	defer other.Close()
	_ = other.Join(ctx, "default", signal.RoleStage)
	if err := other.WaitError(ctx, signal.CodeAlreadyLive); err != nil {
		t.Fatal(err)
	}
	plain := dial(t, ctx, url, testclient.Options{Plain: true})
	defer plain.Close()
	if err := plain.Publish(ctx); err == nil || !strings.Contains(err.Error(), signal.CodeAlreadyLive) {
		t.Fatalf("second plain streamer: %v, want %s", err, signal.CodeAlreadyLive)
	}
}
