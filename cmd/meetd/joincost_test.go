package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// What a viewer's arrival costs the server, seen from its peers.

// offerFingerprint joins room's audience over a raw connection and returns
// the DTLS fingerprint of meetd's first subscribe offer.
func offerFingerprint(t *testing.T, ctx context.Context, url, room string) string {
	t.Helper()
	r := dialRaw(t, ctx, url, nil)
	if m := r.joinAs(ctx, room, signal.KindBroadcast, signal.RoleAudience, ""); m.Type != signal.TypeJoined {
		t.Fatalf("join: %+v", m)
	}
	for {
		m, err := r.next(ctx)
		if err != nil {
			t.Fatalf("waiting for an offer: %v", err)
		}
		if m.Type != signal.TypeOffer {
			continue
		}
		for _, line := range strings.Split(m.SDP, "\n") {
			if f, ok := strings.CutPrefix(strings.TrimSpace(line), "a=fingerprint:"); ok {
				return f
			}
		}
		t.Fatalf("an offer without a fingerprint:\n%s", m.SDP)
	}
}

// Every peer connection presents the server's one DTLS certificate: making
// a key and a certificate for each viewer who joins took CPU from the
// forwarding of everyone's media. Viewers still receive media over it.
func TestViewersShareTheServersCertificate(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "show", testclient.Options{})
	defer pub.Close()

	a, b := offerFingerprint(t, ctx, url, "show"), offerFingerprint(t, ctx, url, "show")
	if a != b {
		t.Errorf("two viewers' offers carry two certificates:\n%s\n%s", a, b)
	}
	for range 2 {
		v := dial(t, ctx, url, testclient.Options{})
		defer v.Close()
		join(t, ctx, v, "show", signal.RoleAudience)
		waitMedia(t, ctx, "viewer", v)
	}
}

// Each viewer who joins needs a keyframe to start: however many join, the
// publisher is asked for one at most once per -keyframe-interval, since
// every keyframe is forwarded to every viewer, and each newcomer starts at
// the next one.
func TestJoiningViewersShareKeyframes(t *testing.T) {
	checkLeaks(t)
	const interval = 2 * time.Second
	m := runMeetd(t, Config{SFU: sfu.Config{KeyframeInterval: interval}})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "show", testclient.Options{})
	defer pub.Close()
	joinAudience(t, ctx, url, "show", 1)

	// A viewer joins every 300 ms for 4 s.
	start, before := time.Now(), pub.KeyframeRequests()
	var viewers []*testclient.Client
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for time.Since(start) < 4*time.Second {
		v := dial(t, ctx, url, testclient.Options{})
		defer v.Close()
		join(t, ctx, v, "show", signal.RoleAudience)
		viewers = append(viewers, v)
		<-tick.C
	}
	for _, v := range viewers {
		waitMedia(t, ctx, "viewer", v)
	}
	asked := pub.KeyframeRequests() - before
	elapsed := time.Since(start)
	t.Logf("%d viewers joined; the publisher was asked for %d keyframes in %v", len(viewers), asked, elapsed.Round(time.Millisecond))
	// The first at once, one per interval, one in flight at the end.
	if most := 2 + int64(elapsed/interval); asked > most {
		t.Errorf("%d viewers joining in %v asked the publisher for %d keyframes, want at most %d (one per %v)",
			len(viewers), elapsed.Round(time.Millisecond), asked, most, interval)
	}
}

func TestKeyframeIntervalFlag(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := ParseConfig(nil, none, io.Discard)
	if err != nil || cfg.SFU.KeyframeInterval != sfu.DefaultKeyframeInterval {
		t.Fatalf("default: %v, %v", cfg.SFU.KeyframeInterval, err)
	}
	cfg, err = ParseConfig(nil, func(k string) string { return map[string]string{"MEETD_KEYFRAME_INTERVAL": "2s"}[k] }, io.Discard)
	if err != nil || cfg.SFU.KeyframeInterval != 2*time.Second {
		t.Fatalf("from the environment: %v, %v", cfg.SFU.KeyframeInterval, err)
	}
	for _, bad := range []string{"10ms", "1m", "often"} {
		if _, err := ParseConfig([]string{"-keyframe-interval", bad}, none, io.Discard); err == nil {
			t.Errorf("-keyframe-interval %s accepted", bad)
		}
	}
}
