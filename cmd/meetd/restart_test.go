package main

// ICE restarts across a broken network: the media path of a viewer (or of
// the publisher) is cut for a few seconds inside network namespaces, and
// the picture comes back through an ICE restart.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	msg "github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// watchJob is what a watcher helper does: join a broadcast, as its
// streamer or a viewer, and report what it sees until it is stopped.
type watchJob struct {
	URL     string
	Role    string
	Network testclient.Network
}

// watchStats is one report of a watcher.
type watchStats struct {
	Video int
	// SubRestarts and PubRestarts count ICE restarts of the subscribe
	// connection (by meetd) and of the publish connection (by the client).
	SubRestarts, PubRestarts int
	Err                      string
}

// helperWatcher prints "READY" once joined (and, for a viewer, once video
// arrives), then "STATS {...}" every 100 ms until SIGTERM.
func helperWatcher() error {
	var job watchJob
	if err := json.Unmarshal([]byte(os.Getenv(helperArgs)), &job); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	start, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := testclient.Dial(start, job.URL, testclient.Options{Network: job.Network, RestartICE: true})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Join(start, "default", job.Role); err != nil {
		return err
	}
	if job.Role == msg.RoleStage {
		err = c.Publish(start)
	} else {
		err = c.WaitMedia(start, 25, 25)
	}
	if err != nil {
		return err
	}
	fmt.Println("READY")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		var st watchStats
		st.Video = c.Stats(webrtc.RTPCodecTypeVideo).Packets
		st.SubRestarts, st.PubRestarts = c.ICERestarts()
		for _, e := range c.Errors() {
			st.Err = e.Code + ": " + e.Message
		}
		out, _ := json.Marshal(st)
		fmt.Println("STATS", string(out))
	}
}

// watcher follows the reports of a watcher helper.
type watcher struct {
	t     *testing.T
	name  string
	lines <-chan string
	last  watchStats
}

func (n *netns) watcher(ns, name string, job watchJob) *watcher {
	n.t.Helper()
	args, err := json.Marshal(job)
	if err != nil {
		n.t.Fatal(err)
	}
	lines, _ := n.helper(ns, "watcher", string(args), "READY")
	return &watcher{t: n.t, name: name, lines: lines}
}

// until reads reports until cond holds, failing the test after timeout.
func (w *watcher) until(what string, timeout time.Duration, cond func(watchStats) bool) watchStats {
	w.t.Helper()
	defer func() {
		if w.t.Failed() {
			w.t.Logf("%s: last report %+v", w.name, w.last)
		}
	}()
	waitLine(w.t, w.lines, w.name+"'s "+what, timeout, func(line string) bool {
		rest, found := strings.CutPrefix(line, "STATS ")
		if !found {
			return false
		}
		if err := json.Unmarshal([]byte(rest), &w.last); err != nil {
			w.t.Fatal(err)
		}
		return cond(w.last)
	})
	return w.last
}

// restartNet is meetd in one namespace and a second namespace, "away",
// joined to it by a veth pair: 10.233.0.1 (meetd) and 10.233.0.2.
type restartNet struct {
	*netns
	server, away string
	url          string // meetd's WebSocket from away
}

func newRestartNet(t *testing.T) *restartNet {
	n := needNetns(t)
	server, away := n.add("srv"), n.add("away")
	n.link(server, "s0", "10.233.0.1/24", away, "a0", "10.233.0.2/24")
	args, _ := json.Marshal([]string{"-addr", ":18081", "-ice-loopback", "-udp-port", "13481",
		"-state-dir", t.TempDir(), "-log-level", "debug"})
	n.helper(server, "meetd", string(args), "READY")
	return &restartNet{netns: n, server: server, away: away, url: "ws://10.233.0.1:18081/ws"}
}

// cutUDP drops every UDP packet in and out of ns (the WebSocket, over
// TCP, stays up, as when a phone moves between networks); the returned
// function restores it.
func (n *restartNet) cutUDP(ns string) (restore func()) {
	n.t.Helper()
	n.in(ns, "iptables", "-A", "INPUT", "-p", "udp", "-j", "DROP")
	n.in(ns, "iptables", "-A", "OUTPUT", "-p", "udp", "-j", "DROP")
	return func() {
		n.in(ns, "iptables", "-D", "INPUT", "-p", "udp", "-j", "DROP")
		n.in(ns, "iptables", "-D", "OUTPUT", "-p", "udp", "-j", "DROP")
	}
}

// outage cuts the media of the namespace ns until restarted reports an
// ICE restart, hold more, and then restores it; the viewer must get video
// again soon after. It returns side's report at the restart and the
// viewer's once video is back.
func (n *restartNet) outage(ns string, side, viewer *watcher, hold time.Duration, restarted func(watchStats) bool) (atRestart, back watchStats) {
	n.t.Helper()
	cut := time.Now()
	restore := n.cutUDP(ns)
	atRestart = side.until("ICE restart", 25*time.Second, restarted)
	restartAfter := time.Since(cut)
	time.Sleep(hold)
	before := viewer.until("report", 5*time.Second, func(watchStats) bool { return true }).Video
	restore()
	restored := time.Now()
	back = viewer.until("video after the outage", 15*time.Second, func(s watchStats) bool { return s.Video >= before+30 })
	n.t.Logf("media cut for %v; ICE restarted %v after the cut (%+v); video back %v after the path (%+v)",
		restored.Sub(cut).Round(10*time.Millisecond), restartAfter.Round(10*time.Millisecond), atRestart,
		time.Since(restored).Round(10*time.Millisecond), back)
	return atRestart, back
}

// TestViewerICERestart cuts a viewer's media path for a few seconds: meetd
// restarts ICE on its subscribe connection, and video flows again.
func TestViewerICERestart(t *testing.T) {
	n := newRestartNet(t)
	n.watcher(n.server, "publisher", watchJob{URL: "ws://127.0.0.1:18081/ws", Role: msg.RoleStage})
	viewer := n.watcher(n.away, "viewer", watchJob{URL: n.url, Role: msg.RoleAudience,
		Network: testclient.Network{AllInterfaces: true}})
	n.outage(n.away, viewer, viewer, time.Second, func(s watchStats) bool { return s.SubRestarts > 0 })
}

// TestViewerICERestartWhileStillDown keeps a viewer's media path cut for
// seconds after meetd restarted ICE on its subscribe connection, longer
// than a candidate pair's first few checks take. When the path comes back,
// that restart's checks find it: video flows again with no second restart.
func TestViewerICERestartWhileStillDown(t *testing.T) {
	n := newRestartNet(t)
	n.watcher(n.server, "publisher", watchJob{URL: "ws://127.0.0.1:18081/ws", Role: msg.RoleStage})
	viewer := n.watcher(n.away, "viewer", watchJob{URL: n.url, Role: msg.RoleAudience,
		Network: testclient.Network{AllInterfaces: true}})
	atRestart, back := n.outage(n.away, viewer, viewer, 4*time.Second, func(s watchStats) bool { return s.SubRestarts > 0 })
	if back.SubRestarts != atRestart.SubRestarts {
		t.Errorf("%d ICE restarts of the subscribe connection by the time video was back, want the %d made while the path was down",
			back.SubRestarts, atRestart.SubRestarts)
	}
}

// TestPublisherICERestart cuts the streamer's media path: the streamer
// restarts ICE on its publish connection, and the viewer gets video again.
func TestPublisherICERestart(t *testing.T) {
	n := newRestartNet(t)
	publisher := n.watcher(n.away, "publisher", watchJob{URL: n.url, Role: msg.RoleStage,
		Network: testclient.Network{AllInterfaces: true}})
	viewer := n.watcher(n.server, "viewer", watchJob{URL: "ws://127.0.0.1:18081/ws", Role: msg.RoleAudience})
	n.outage(n.away, publisher, viewer, time.Second, func(s watchStats) bool { return s.PubRestarts > 0 })
}

// TestRestartOnRequest restarts ICE on loopback, where nothing breaks: a
// viewer asks meetd to restart its subscribe connection, and the streamer
// restarts its publish connection; media keeps flowing on the same
// connections, with no error.
func TestRestartOnRequest(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	viewer := dial(t, ctx, url, testclient.Options{})
	defer viewer.Close()
	join(t, ctx, viewer, "default", msg.RoleAudience)
	waitMedia(t, ctx, "viewer", viewer)

	if err := viewer.RequestRestart(); err != nil {
		t.Fatal(err)
	}
	if err := viewer.Wait(ctx, "an offer with new ICE credentials", func() bool {
		sub, _ := viewer.ICERestarts()
		return sub == 1
	}); err != nil {
		t.Fatal(err)
	}
	if err := pub.RestartPublish(ctx); err != nil {
		t.Fatal(err)
	}
	video := viewer.Stats(webrtc.RTPCodecTypeVideo).Packets
	if err := viewer.WaitMedia(ctx, 0, video+60); err != nil {
		t.Fatalf("video after the restarts: %v", err)
	}
	// (Not expectNoLoss: a packet on its way while a path's ICE restarts
	// may be lost, as on any network; audio is not retransmitted.)
	if n := viewer.SubscribeConnections(); n != 1 {
		t.Errorf("%d subscribe connections, want the same one restarted", n)
	}
	for _, c := range []*testclient.Client{pub, viewer} {
		if errs := c.Errors(); len(errs) > 0 {
			t.Errorf("errors: %+v", errs)
		}
	}
}
