package main

import (
	"context"
	"strings"
	"testing"
	"time"

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
