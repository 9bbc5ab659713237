package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

func TestBadInputGetsErrorsAndHurtsNoOne(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A broadcast runs all along.
	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	viewer := dial(t, ctx, url, testclient.Options{})
	defer viewer.Close()
	join(t, ctx, viewer, "default", signal.RoleAudience)
	waitMedia(t, ctx, "viewer", viewer)

	bad := dialRaw(t, ctx, url, nil)
	for _, tc := range []struct{ send, code string }{
		{`this is not json`, signal.CodeBadMessage},
		{`{"type":"offer","sdp":42}`, signal.CodeBadMessage},
		{`{"type":"dance"}`, signal.CodeUnknownType},
		{`{"type":"join","room":"no spaces allowed","role":"audience"}`, signal.CodeBadRoom},
		{`{"type":"join","room":"default","role":"owner"}`, signal.CodeBadRole},
		{`{"type":"answer","sdp":"v=0\r\n"}`, signal.CodeWrongState},
	} {
		bad.send(ctx, tc.send)
		bad.expectError(ctx, tc.code)
	}
	// Still connected: the same socket can join, and is refused what its role forbids.
	bad.send(ctx, `{"type":"join","room":"default","role":"audience"}`)
	for {
		m, err := bad.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == signal.TypeJoined {
			break
		}
	}
	bad.send(ctx, `{"type":"offer","sdp":"v=0\r\n"}`)
	for {
		m, err := bad.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == signal.TypeError {
			if m.Code != signal.CodeNotAllowed {
				t.Fatalf("audience offer: %+v", m)
			}
			break
		}
	}
	// Garbage SDP from a stage member.
	staged := dialRaw(t, ctx, url, nil)
	staged.send(ctx, `{"type":"join","room":"other","role":"stage"}`)
	if m, err := staged.next(ctx); err != nil || m.Type != signal.TypeJoined {
		t.Fatalf("join: %+v %v", m, err)
	}
	staged.send(ctx, `{"type":"offer","sdp":"not an sdp"}`)
	staged.expectError(ctx, signal.CodeBadSDP)

	// An oversized message is refused in words; the connection goes on.
	huge := dialRaw(t, ctx, url, nil)
	huge.send(ctx, `{"type":"offer","sdp":"`+strings.Repeat("x", signal.MaxMessageSize)+`"}`)
	huge.expectError(ctx, signal.CodeTooLarge)
	huge.send(ctx, `{"type":"dance"}`)
	huge.expectError(ctx, signal.CodeUnknownType)

	// The broadcast never noticed.
	before := viewer.Stats(webrtc.RTPCodecTypeVideo).Packets
	if err := viewer.WaitMedia(ctx, 0, before+30); err != nil {
		t.Fatal(err)
	}
	expectNoLoss(t, "viewer", viewer)
	if errs := viewer.Errors(); len(errs) > 0 {
		t.Fatalf("viewer errors: %+v", errs)
	}
}

func TestCrossOriginWebSocketRefused(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{"Origin": []string{"https://evil.example"}}
	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		t.Fatal("a foreign origin opened /ws")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v, want 403", resp, err)
	}
	// The page's own origin is fine.
	host := strings.TrimPrefix(strings.TrimSuffix(url, "/ws"), "ws://")
	h = http.Header{"Origin": []string{"http://" + host}}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("same origin: %v", err)
	}
	ws.CloseNow()
}

func TestShutdownTellsClients(t *testing.T) {
	checkLeaks(t)
	m := NewMain(Config{Addr: "127.0.0.1:0", SFU: sfu.Config{Loopback: true, Interfaces: []string{"lo"}, FastEgress: fastEgress}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws://" + m.Addr() + "/ws"
	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	viewer := dial(t, ctx, url, testclient.Options{})
	defer viewer.Close()
	join(t, ctx, viewer, "default", signal.RoleAudience)
	waitMedia(t, ctx, "viewer", viewer)

	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	for _, c := range []*testclient.Client{pub, viewer} {
		if err := c.WaitError(ctx, signal.CodeShuttingDown); err != nil {
			t.Fatal(err)
		}
	}
}
