package main

// A clean stop of a node of a cluster (SIGTERM) hands its participants
// over to the other nodes.

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// runNodeToStop is runNode for a node the test stops itself: the returned
// stop closes it once (Main.Close, as on SIGTERM), and the test's cleanup
// closes it if the test did not.
func runNodeToStop(t *testing.T, natsURL string) (*Main, string, func() error) {
	t.Helper()
	m := NewMain(Config{
		Addr: "127.0.0.1:0", Cluster: ClusterConfig{NATS: []string{natsURL}}, TLS: TLSConfig{StateDir: testStateDir},
	}, testLog())
	m.Config.SFU.FastEgress, m.Config.SFU.PionReadPath = fastEgress, pionReads()
	m.Config.SFU.Loopback, m.Config.SFU.Interfaces = true, []string{"lo"}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { err = m.Close() })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return m, "ws://" + m.Addr() + "/ws", stop
}

// handOverBound is how soon after a node stops cleanly its participants
// are back on another node, as everyone there sees it: less than the 3 s
// after which a silent node counts gone, so it cannot be that timeout.
const handOverBound = 2500 * time.Millisecond

// A streamer and a meeting participant on node A, their audience and the
// other participant on node B. Node A stops cleanly: its clients are told
// to reconnect and do so at once (as the web app does, to the same URL,
// which a load balancer sends to B). On B the streamer finds the
// broadcast's stage free (no already_live from A's claim), and B's
// participants see the old selves leave and the new ones come back, with
// media, within handOverBound; B holds no node and no link of A.
func TestClusterShutdownHandsOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, url := startNATS(t)
	a, urlA, stopA := runNodeToStop(t, url)
	b, urlB := runNode(t, url)
	waitNodes(t, ctx, a, b)

	sam := goLive(t, ctx, urlA, "show", testclient.Options{Name: "Sam"})
	defer sam.Close()
	viewer := joinAudience(t, ctx, urlB, "show", 1)[0]
	ana, ben := meetingOnTwoNodes(t, ctx, urlA, urlB)
	if err := viewer.WaitFrom(ctx, sam.ID(), "video", 20); err != nil {
		t.Fatal(err)
	}

	// A request in progress on A (a WHIP offer arriving slowly) keeps A
	// draining for up to drainTimeout after its clients were told: that
	// must not keep A in the cluster, nor its links.
	slow := slowRequest(t, a)
	defer slow.Close()

	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- stopA() }()
	bound, cancelBound := context.WithTimeout(ctx, handOverBound)
	defer cancelBound()
	for _, c := range []*testclient.Client{sam, ana} {
		if err := c.WaitError(bound, signal.CodeShuttingDown); err != nil {
			t.Fatal(err)
		}
	}

	// Back, on B.
	sam2 := dial(t, ctx, urlB, testclient.Options{Name: "Sam"})
	defer sam2.Close()
	if err := sam2.Join(bound, "show", signal.RoleStage); err != nil {
		t.Fatal(err)
	}
	if errs := sam2.Errors(); len(errs) > 0 {
		t.Fatalf("the streamer back on B was refused: %+v", errs)
	}
	ana2 := dial(t, ctx, urlB, testclient.Options{Name: "Ana"})
	defer ana2.Close()
	if err := ana2.JoinKind(bound, signal.KindMeeting, "standup", signal.RoleStage); err != nil {
		t.Fatal(err)
	}
	if errs := ana2.Errors(); len(errs) > 0 {
		t.Fatalf("Ana back on B was refused: %+v", errs)
	}
	if err := ben.Wait(bound, "Ana's old self gone and her new one there", func() bool {
		_, old := ben.Participant(ana.ID())
		_, now := ben.Participant(ana2.ID())
		return !old && now
	}); err != nil {
		t.Fatalf("%v: %+v", err, ben.Participants())
	}
	if err := viewer.Wait(bound, "Sam's old self gone and his new one on stage", func() bool {
		_, old := viewer.Participant(sam.ID())
		p, now := viewer.Participant(sam2.ID())
		return !old && now && p.Role == signal.RoleStage
	}); err != nil {
		t.Fatalf("%v: %+v", err, viewer.Participants())
	}
	waitUntil(t, bound, "node B to hold no node and no link of A", func() bool {
		s := b.cluster.Stats()
		return s.Nodes == 1 && s.LinksIn == 0 && s.LinksOut == 0
	})
	t.Logf("handed over in %v", time.Since(start))

	// Their media flows again, now within B.
	if err := sam2.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ana2.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := viewer.WaitFrom(ctx, sam2.ID(), "video", 20); err != nil {
		t.Fatal(err)
	}
	if err := ben.WaitFrom(ctx, ana2.ID(), "video", 20); err != nil {
		t.Fatal(err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("stopping node A: %v", err)
	}
}

// slowRequest starts an HTTP request to m whose body never comes, and
// returns once m's handler is reading it.
func slowRequest(t *testing.T, m *Main) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "POST /whip/slow HTTP/1.1\r\nHost: "+m.Addr()+
		"\r\nContent-Type: application/sdp\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	// meetd's "100 Continue" says the handler is reading the body.
	if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.Contains(line, " 100 ") {
		t.Fatalf("want 100 Continue, got %q %v", line, err)
	}
	if _, err := io.WriteString(conn, "v=0\r\n"); err != nil {
		t.Fatal(err)
	}
	return conn
}
