package main

// What a node of a cluster tells its operator: the media its links carry,
// and its rooms across the nodes.

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/metrics"
	"github.com/meetd/meetd/internal/testclient"
)

// A streamer on node A, a viewer on node B: A's /metrics counts the
// bytes it sent to B over their link, B's those it received from A, and
// each node's /admin/stats lists the member of the other node, with that
// node's name.
func TestClusterLinkStats(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, urlA, b, urlB := twoNodes(t, ctx)
	nameA, nameB := a.cluster.Name(), b.cluster.Name()

	sam := goLive(t, ctx, urlA, "show", testclient.Options{Name: "Sam"})
	defer sam.Close()
	viewer := joinAudience(t, ctx, urlB, "show", 1)[0]
	if err := viewer.WaitFrom(ctx, sam.ID(), "video", 50); err != nil {
		t.Fatal(err)
	}

	sent := `meetd_cluster_link_bytes_total{direction="sent",peer="` + nameB + `"}`
	received := `meetd_cluster_link_bytes_total{direction="received",peer="` + nameA + `"}`
	// Received bytes are counted once a second; 20 kB is a few dozen of
	// the test client's packets.
	const some = 20_000
	waitUntil(t, ctx, "A's bytes sent to B and B's received from A in /metrics", func() bool {
		return scrape(t, "http://"+a.Addr())[sent] > some && scrape(t, "http://"+b.Addr())[received] > some
	})
	if got := scrape(t, "http://"+b.Addr())[sent[:len(sent)-len(nameB)-2]+`"`+nameA+`"}`]; got != 0 {
		t.Errorf("B sent %v bytes to A, which has no viewer of B", got)
	}

	for _, c := range []struct {
		m             *Main
		who, id, node string
	}{{b, "Sam", sam.ID(), nameA}, {a, "the viewer", viewer.ID(), nameB}} {
		code, body := get(t, "http://"+c.m.Addr()+"/admin/stats?format=json", nil)
		if code != http.StatusOK {
			t.Fatalf("/admin/stats: %d", code)
		}
		var stats struct{ Rooms []metrics.RoomStats }
		if err := json.Unmarshal([]byte(body), &stats); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range stats.Rooms {
			for _, p := range r.Participants {
				if p.ID == c.id {
					found = true
					if p.Node != c.node {
						t.Errorf("%s in the stats of the other node: node %q, want %q", c.who, p.Node, c.node)
					}
				} else if p.Node != "" {
					t.Errorf("a participant of this node with node %q: %+v", p.Node, p)
				}
			}
		}
		if !found {
			t.Errorf("%s not in the stats of the other node: %s", c.who, body)
		}
	}
}
