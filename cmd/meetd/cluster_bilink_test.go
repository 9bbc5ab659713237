package main

// One node link per pair of nodes, carrying tracks both ways.

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// namedNodes starts a NATS server and two nodes of its cluster named
// first and second, and waits until they see each other. The node whose
// name sorts lower offers the link between them.
func namedNodes(t *testing.T, ctx context.Context, first, second string) (a *Main, urlA string, b *Main, urlB string) {
	t.Helper()
	_, url := startNATS(t)
	a = runMeetd(t, Config{Cluster: ClusterConfig{NATS: []string{url}, Node: first}})
	b = runMeetd(t, Config{Cluster: ClusterConfig{NATS: []string{url}, Node: second}})
	waitNodes(t, ctx, a, b)
	return a, "ws://" + a.Addr() + "/ws", b, "ws://" + b.Addr() + "/ws"
}

// A meeting with a participant on each of two nodes: each gets the
// other's media, over ONE peer connection between the nodes, which
// carries both participants' audio and video, offered by the node whose
// name sorts lower; /metrics counts one connection, a link each way.
func TestClusterOneLinkPerPair(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, urlA, b, urlB := twoNodes(t, ctx)

	ana, ben := meetingOnTwoNodes(t, ctx, urlA, urlB)

	for _, m := range []*Main{a, b} {
		waitUntil(t, ctx, m.cluster.Name()+"'s link carrying audio and video each way", func() bool {
			s := m.cluster.Stats()
			return s.TracksOut == 2 && s.TracksIn == 2
		})
	}
	offerer := a
	if b.cluster.Name() < a.cluster.Name() {
		offerer = b
	}
	for _, m := range []*Main{a, b} {
		name := m.cluster.Name()
		paths := m.cluster.LinkPaths()
		if len(paths) != 1 {
			t.Fatalf("node %s: %d peer connections with the other node, want 1: %+v", name, len(paths), paths)
		}
		if p := paths[0]; p.State != webrtc.PeerConnectionStateConnected || p.Out != (m == offerer) {
			t.Errorf("node %s: link %+v, want connected and offered by %s", name, p, offerer.cluster.Name())
		}
		got := scrape(t, "http://"+m.Addr())
		if got[`meetd_cluster_link_connections`] != 1 ||
			got[`meetd_cluster_links{direction="out"}`] != 1 || got[`meetd_cluster_links{direction="in"}`] != 1 {
			t.Errorf("node %s: meetd_cluster_link_connections %v, meetd_cluster_links out %v, in %v; want 1, 1, 1", name,
				got[`meetd_cluster_link_connections`], got[`meetd_cluster_links{direction="out"}`], got[`meetd_cluster_links{direction="in"}`])
		}
	}
	// Each participant's media keeps coming through it.
	clients := []*testclient.Client{ana, ben}
	waitAllMedia(t, ctx, clients, []string{"Ana", "Ben"}, counts(clients))
}

// A simulcast camera on the node that answers the link (the other
// direction of TestClusterSimulcastLayersPerEdge, whichever the node
// names made it): viewers on the offering node each get their layer, the
// layer nobody wants is paused at the publisher, and one asked for again
// comes back.
func TestClusterSimulcastFromAnsweringNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	edge, urlEdge, origin, urlOrigin := namedNodes(t, ctx, "edge-1", "origin-2")

	pub := publishSimulcast(t, ctx, urlOrigin)
	defer pub.Close()
	stream := pub.ID() + "_" + testclient.CameraStream
	small, recSmall := watchSimulcast(t, ctx, urlEdge)
	defer small.Close()
	medium, recMedium := watchSimulcast(t, ctx, urlEdge)
	defer medium.Close()
	waitUntil(t, ctx, "the three layers and the audio on the link", func() bool {
		return origin.cluster.Stats().TracksOut == 4 && edge.cluster.Stats().TracksIn == 4
	})
	if p := origin.cluster.LinkPaths(); len(p) != 1 || p[0].Out {
		t.Fatalf("the origin's links: %+v, want one it answers", p)
	}
	if err := small.SendView(stream, 320, 180, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	if err := medium.SendView(stream, 640, 360, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, recSmall, 'q', 30)
	waitLayer(t, ctx, recMedium, 'h', 30)
	if err := pub.WaitLayers(ctx, "q", "h"); err != nil {
		t.Fatal(err)
	}
	if err := medium.SendView(stream, 1280, 720, signal.QualityAuto); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitLayers(ctx, "q", "h", "f"); err != nil {
		t.Fatal(err)
	}
	waitLayer(t, ctx, recMedium, 'f', 30)
}

// A link whose connection is closed under it is made anew, and carries
// both nodes' tracks again.
func TestClusterLinkMadeAnew(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, urlA, b, urlB := namedNodes(t, ctx, "node-1", "node-2")

	ana, ben := meetingOnTwoNodes(t, ctx, urlA, urlB)

	for i, m := range []*Main{a, b} {
		before := []int{ben.From(ana.ID(), "video"), ana.From(ben.ID(), "video")}
		m.cluster.BreakLinks()
		if err := ben.WaitFrom(ctx, ana.ID(), "video", before[0]+100); err != nil {
			t.Fatalf("after node %d's link broke: %v", i+1, err)
		}
		if err := ana.WaitFrom(ctx, ben.ID(), "video", before[1]+100); err != nil {
			t.Fatalf("after node %d's link broke: %v", i+1, err)
		}
		for _, n := range []*Main{a, b} {
			waitUntil(t, ctx, "one link again on "+n.cluster.Name()+" after node "+strconv.Itoa(i+1)+"'s broke", func() bool {
				return len(n.cluster.LinkPaths()) == 1
			})
		}
	}
}
