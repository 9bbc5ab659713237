package main

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/cluster"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/testclient"
)

// TestClusterLinksOneConnectionPerAddress: a meeting with a publisher on
// each of two nodes has one link between them, carrying both ways. pion's
// UDP mux hands a packet to the one connection its source address was
// last registered for, so a node must have at most one link per remote
// address on its shared socket: the node that offers the link has it on a
// socket of its own, the one that answers on its shared socket, and
// meetd's egress sends each one's media and sender reports through ICE.
func TestClusterLinksOneConnectionPerAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, urlA, b, urlB := twoNodes(t, ctx)

	meetingOnTwoNodes(t, ctx, urlA, urlB)

	for _, node := range []struct {
		name string
		m    *Main
	}{{"A", a}, {"B", b}} {
		shared := map[netip.AddrPort]bool{}
		for _, s := range node.m.api.MediaAddrs() {
			shared[addrPort(t, s)] = true
		}
		var paths []cluster.LinkPath
		waitUntil(t, ctx, node.name+"'s link with a candidate pair", func() bool {
			paths = node.m.cluster.LinkPaths()
			for _, p := range paths {
				if p.Local == "" {
					return false
				}
			}
			return len(paths) == 1
		})
		onShared := map[string]int{}
		for _, p := range paths {
			local := shared[addrPort(t, p.Local)]
			if local {
				onShared[p.Remote]++
			}
			if local == p.Out {
				t.Errorf("node %s: link with %s (offered here %v) from %s to %s: on a shared socket %v, want the offered link alone off it",
					node.name, p.Node, p.Out, p.Local, p.Remote, local)
			}
		}
		for remote, n := range onShared {
			if n > 1 {
				t.Errorf("node %s: %d links on its shared socket with %s: %+v", node.name, n, remote, paths)
			}
		}
		waitUntil(t, ctx, node.name+"'s link connected, and sender reports through it", func() bool {
			paths = node.m.cluster.LinkPaths()
			for _, p := range paths {
				if p.State != webrtc.PeerConnectionStateConnected || !p.Reported {
					return false
				}
			}
			return len(paths) == 1
		})
		// The participant's subscribe connection on the shared socket, the
		// link through ICE (its own socket, or the shared one through
		// pion's mux).
		wantSendPaths(t, node.m, "node "+node.name, 1, 1, 0)
	}
}

func addrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// TestClusterPionReadPath: nodes that read publishers' media through pion
// (-pion-read-path) carry a meeting both ways. pion's UDP mux routes every
// packet by its source address alone, so this needs the connections of a
// node on its shared socket to have different remote addresses.
func TestClusterPionReadPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, url := startNATS(t)
	var nodes []*Main
	var urls []string
	for range 2 {
		m := runMeetd(t, Config{Cluster: ClusterConfig{NATS: []string{url}}, SFU: sfu.Config{PionReadPath: true}})
		nodes, urls = append(nodes, m), append(urls, "ws://"+m.Addr()+"/ws")
	}
	waitNodes(t, ctx, nodes...)
	ana := joinMeeting(t, ctx, urls[0], "standup", testclient.Options{Name: "Ana"})
	defer ana.Close()
	ben := joinMeeting(t, ctx, urls[1], "standup", testclient.Options{Name: "Ben"})
	defer ben.Close()
	waitAllMedia(t, ctx, []*testclient.Client{ana, ben}, []string{"Ana", "Ben"}, nil)
	for _, m := range nodes {
		if n := m.api.Counters().Snapshot().ReadPaths[sfu.ReadPion]; n != 2 {
			t.Errorf("publish connections read through pion: %d, want 2 (the participant's and the link's)", n)
		}
	}
}
