package main

import (
	"bytes"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClusterWorkload runs the cluster workload with two subscribers per
// edge against real meetd nodes and an in-process NATS server: every node
// has its figures, the origin sends the edges the stream in both windows,
// and each edge forwards to its subscribers about what the origin sends
// it, once per subscriber.
func TestClusterWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three meetd nodes")
	}
	bin := filepath.Join(t.TempDir(), "meetd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/meetd/meetd/cmd/meetd").CombinedOutput(); err != nil {
		t.Fatalf("building meetd: %v\n%s", err, out)
	}
	cfg := &config{meetd: bin, serverCPU: -1, duration: 3 * time.Second, warmup: time.Second,
		concurrency: 4, quiet: true, meetdLog: io.Discard}
	const n = 4
	res := runCluster(cfg, workload{kind: "cluster", n: n})
	if res.Error != "" {
		t.Errorf("the run failed: %s", res.Error)
	}
	cl := res.Cluster
	if cl == nil || len(cl.Nodes) != 1+clusterEdges {
		t.Fatalf("want the figures of %d nodes, got %+v", 1+clusterEdges, cl)
	}
	origin := cl.Nodes[0]
	if origin.Role != "origin" || origin.ForwardedPPS <= 0 || cl.OriginPPSSmall <= 0 {
		t.Errorf("the origin sent the edges %.0f packets a second with %d subscribers and %.0f with %d: %+v",
			cl.OriginPPSSmall, cl.SmallAudience, origin.ForwardedPPS, n, origin)
	}
	var cores float64
	for _, e := range cl.Nodes[1:] {
		cores += e.Cores
		// The origin sends each edge one copy of the stream; the edge
		// sends it to each of its subscribers.
		want := origin.ForwardedPPS / clusterEdges * float64(e.Subscribers)
		if e.Role != "edge" || e.Subscribers != n/clusterEdges || e.ForwardedPPS <= 0 ||
			math.Abs(e.ForwardedPPS-want) > want/2 {
			t.Errorf("edge %s forwarded %.0f packets a second to %d subscribers, want about %.0f: %+v",
				e.Node, e.ForwardedPPS, e.Subscribers, want, e)
		}
		// And by its own count: they came from this node.
		if math.Abs(e.CountedPPS-e.ForwardedPPS) > e.ForwardedPPS/2 {
			t.Errorf("edge %s counted %.0f packets a second forwarded, its subscribers %.0f received", e.Node, e.CountedPPS, e.ForwardedPPS)
		}
		if e.P50Ms <= 0 {
			t.Errorf("edge %s: no latency measured: %+v", e.Node, e)
		}
	}
	if cores+origin.Cores <= 0 || res.ServerCores <= 0 {
		t.Errorf("no CPU time measured on the nodes: %+v", cl.Nodes)
	}
	var out bytes.Buffer
	printClusters(&out, []result{res})
	for _, want := range []string{"by node", "edge-a", "edge-b", "with 2 subscribers"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}
