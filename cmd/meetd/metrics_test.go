package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/metrics"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestMetricsAndStats(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{AdminPassword: "ops"})
	base := "http://" + m.Addr()
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	pub := goLive(t, ctx, url, "show", testclient.Options{Name: "Sam"})
	defer pub.Close()
	for range 2 {
		v := dial(t, ctx, url, testclient.Options{})
		defer v.Close()
		join(t, ctx, v, "show", signal.RoleAudience)
		waitMedia(t, ctx, "viewer", v)
	}
	bad := dialRaw(t, ctx, url)
	bad.send(ctx, `nonsense`)
	bad.expectError(ctx, signal.CodeBadMessage)

	_, text := get(t, base+"/metrics", nil)
	for _, want := range []string{
		`meetd_rooms{kind="broadcast"} 1`,
		`meetd_participants{role="audience"} 2`,
		`meetd_participants{role="stage"} 1`,
		`meetd_tracks{kind="video"} 1`,
		`meetd_tracks{kind="audio"} 1`,
		`meetd_subscriptions 4`,
		`meetd_signaling_errors_total{code="bad_message"} 1`,
		`meetd_websocket_connections 4`,
		`meetd_media_datagrams_batched_total{result="failed"} 0`,
		`meetd_media_batches_total`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}

	// The stats view: open from this machine, behind a password for others.
	code, body := get(t, base+"/admin/stats?format=json", nil)
	if code != http.StatusOK {
		t.Fatalf("stats from loopback: %d", code)
	}
	var stats struct{ Rooms []metrics.RoomStats }
	if err := json.Unmarshal([]byte(body), &stats); err != nil {
		t.Fatal(err)
	}
	if len(stats.Rooms) != 1 || len(stats.Rooms[0].Participants) != 3 {
		t.Fatalf("stats: %+v", stats)
	}
	sam := stats.Rooms[0].Participants[0]
	if sam.Name != "Sam" || !sam.Host || !strings.HasPrefix(sam.Publish, "udp host 127.0.0.1:") {
		t.Errorf("the streamer in the stats: %+v", sam)
	}
	if p := stats.Rooms[0].Participants[1]; !strings.HasPrefix(p.Subscribe, "udp host") || p.Remote == "" {
		t.Errorf("a viewer in the stats: %+v", p)
	}
	proxied := http.Header{"X-Forwarded-For": []string{"198.51.100.7"}}
	if code, _ := get(t, base+"/admin/stats", proxied); code != http.StatusUnauthorized {
		t.Errorf("stats through a proxy without the password: %d", code)
	}
	req := http.Header{"X-Forwarded-For": []string{"198.51.100.7"}}
	req.Set("Authorization", "Basic YWRtaW46b3Bz") // admin:ops
	if code, page := get(t, base+"/admin/stats", req); code != http.StatusOK || !strings.Contains(page, "Sam") {
		t.Errorf("stats with the password: %d", code)
	}
}
