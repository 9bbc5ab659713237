package main

// Tests of a cluster of meetd nodes (docs/cluster.md): real nodes on
// loopback, differing only in their -addr and media ports, joined through
// an in-process NATS server with JetStream, and real pion clients.

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// startNATS runs a NATS server with JetStream on a loopback port for the
// test and returns its URL.
func startNATS(t *testing.T) (*natsserver.Server, string) {
	t.Helper()
	s := startNATSAt(t, -1, t.TempDir())
	return s, s.ClientURL()
}

// startNATSAt runs a NATS server with JetStream on port (-1: any), keeping
// its streams in dir: a server started again there has them back.
func startNATSAt(t *testing.T, port int, dir string) *natsserver.Server {
	t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		cannotRun(t, "the in-process NATS server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// runNode starts a meetd node of the cluster served by natsURL, with the
// default node name (the host's name and its port).
func runNode(t *testing.T, natsURL string) (*Main, string) {
	t.Helper()
	m := runMeetd(t, Config{Cluster: ClusterConfig{NATS: []string{natsURL}}})
	return m, "ws://" + m.Addr() + "/ws"
}

// waitNodes waits until every node sees all of them.
func waitNodes(t *testing.T, ctx context.Context, nodes ...*Main) {
	t.Helper()
	waitUntil(t, ctx, "the nodes to see each other", func() bool {
		for _, m := range nodes {
			if m.cluster.Stats().Nodes != len(nodes) {
				return false
			}
		}
		return true
	})
}

// twoNodes starts a NATS server and two nodes of its cluster, and waits
// until they see each other.
func twoNodes(t *testing.T, ctx context.Context) (a *Main, urlA string, b *Main, urlB string) {
	t.Helper()
	_, url := startNATS(t)
	a, urlA = runNode(t, url)
	b, urlB = runNode(t, url)
	waitNodes(t, ctx, a, b)
	return a, urlA, b, urlB
}

// A streamer on node A, viewers on node B: they play, with no packet
// lost, and the streamer's tracks cross to B once for both.
func TestClusterBroadcast(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, urlA, b, urlB := twoNodes(t, ctx)

	streamer := goLive(t, ctx, urlA, "show", testclient.Options{Name: "Sam"})
	defer streamer.Close()
	viewers := joinAudience(t, ctx, urlB, "show", 2)

	v := viewers[0]
	if err := v.Wait(ctx, "the streamer in the list", func() bool {
		p, ok := v.Participant(streamer.ID())
		return ok && p.Role == signal.RoleStage && p.Host
	}); err != nil {
		t.Fatalf("%v: %+v", err, v.Participants())
	}
	if err := streamer.Wait(ctx, "2 viewers counted", func() bool {
		st, ok := streamer.LastState()
		return ok && st.Viewers != nil && *st.Viewers == 2
	}); err != nil {
		t.Fatal(err)
	}
	if s := a.cluster.Stats(); s.LinksOut != 1 || s.TracksOut != 2 {
		t.Errorf("node A sends %d links with %d tracks, want 1 link with 2 (audio and video) for 2 viewers", s.LinksOut, s.TracksOut)
	}
	if s := b.cluster.Stats(); s.LinksIn != 1 || s.TracksIn != 2 {
		t.Errorf("node B receives %d links with %d tracks, want 1 with 2", s.LinksIn, s.TracksIn)
	}
	// A second streamer on B is refused: one per broadcast, cluster-wide.
	second := dial(t, ctx, urlB, testclient.Options{})
	defer second.Close()
	if err := second.Join(ctx, "show", signal.RoleStage); err != nil {
		t.Fatal(err)
	}
	if err := second.WaitError(ctx, signal.CodeAlreadyLive); err != nil {
		t.Fatal(err)
	}
	// The viewers' media goes on flowing, in order.
	for i, v := range viewers {
		n := v.Stats(webrtc.RTPCodecTypeVideo).Packets
		if err := v.WaitMedia(ctx, 0, n+50); err != nil {
			t.Fatal(err)
		}
		expectNoLoss(t, "viewer "+string(rune('1'+i)), v)
	}
	// A viewer who comes later on B asks for a keyframe: it crosses the
	// link and reaches the streamer on A, and the viewer's video starts
	// with one.
	asked := streamer.KeyframeRequests()
	late := joinAudience(t, ctx, urlB, "show", 1)[0]
	waitUntil(t, ctx, "the late viewer's keyframe request to reach the streamer", func() bool {
		return streamer.KeyframeRequests() > asked
	})
	if st := late.Stats(webrtc.RTPCodecTypeVideo); len(st.FirstIsKeyframe) == 0 || !st.FirstIsKeyframe[0] {
		t.Errorf("the late viewer's video did not start with a keyframe: %+v", st)
	}
	body := metricsOf(t, b)
	for _, want := range []string{"meetd_cluster_nodes 2", `meetd_cluster_links{direction="in"} 1`,
		`meetd_cluster_relayed_tracks{direction="in"} 2`, "meetd_cluster_nats_connected 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics of node B lacks %q", want)
		}
	}
}

// metricsOf reads a node's /metrics.
func metricsOf(t *testing.T, m *Main) string {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// meetingOnTwoNodes has Ana join meeting "standup" on the node at urlA
// and Ben on the one at urlB, and waits until each gets the other's audio
// and video; both leave when the test ends.
func meetingOnTwoNodes(t *testing.T, ctx context.Context, urlA, urlB string) (ana, ben *testclient.Client) {
	t.Helper()
	ana = joinMeeting(t, ctx, urlA, "standup", testclient.Options{Name: "Ana"})
	t.Cleanup(ana.Close)
	ben = joinMeeting(t, ctx, urlB, "standup", testclient.Options{Name: "Ben"})
	t.Cleanup(ben.Close)
	waitAllMedia(t, ctx, []*testclient.Client{ana, ben}, []string{"Ana", "Ben"}, nil)
	return ana, ben
}

// A meeting with one participant on each node: each gets the other's
// media and chat, and one who joins later gets the chat's history.
func TestClusterMeeting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, urlA, _, urlB := twoNodes(t, ctx)

	ana, ben := meetingOnTwoNodes(t, ctx, urlA, urlB)

	for _, c := range []*testclient.Client{ana, ben} {
		if err := c.Wait(ctx, "both in the list, one host", func() bool {
			ps := c.Participants()
			hosts := 0
			for _, p := range ps {
				if p.Host {
					hosts++
				}
			}
			pa, okA := c.Participant(ana.ID())
			_, okB := c.Participant(ben.ID())
			return okA && okB && hosts == 1 && pa.Host && pa.Audio && pa.Video
		}); err != nil {
			t.Fatalf("%v: %+v", err, c.Participants())
		}
	}

	if err := ana.SendChat("hello from A"); err != nil {
		t.Fatal(err)
	}
	if err := ben.SendChat("hello from B"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{ana, ben} {
		if err := c.Wait(ctx, "both chat messages", func() bool { return hasChat(c, "hello from A", "hello from B") }); err != nil {
			t.Fatalf("%v: %+v", err, c.Chat())
		}
	}
	late := enterMeeting(t, ctx, urlA, "standup", testclient.Options{Name: "Cy"})
	defer late.Close()
	if err := late.Wait(ctx, "the chat's history", func() bool { return hasChat(late, "hello from A", "hello from B") }); err != nil {
		t.Fatalf("%v: %+v", err, late.Chat())
	}
}

// hasChat says whether c received every text.
func hasChat(c *testclient.Client, texts ...string) bool {
	for _, text := range texts {
		found := false
		for _, m := range c.Chat() {
			found = found || m.Text == text
		}
		if !found {
			return false
		}
	}
	return true
}

// A node that dies without a word: its participants leave the lists of
// the others within 5 seconds, and its tracks their stages.
func TestClusterNodeGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, urlA, b, urlB := twoNodes(t, ctx)

	ana := joinMeeting(t, ctx, urlA, "standup", testclient.Options{Name: "Ana"})
	defer ana.Close()
	ben := joinMeeting(t, ctx, urlB, "standup", testclient.Options{Name: "Ben"})
	defer ben.Close()
	if err := ana.WaitFrom(ctx, ben.ID(), "video", 20); err != nil {
		t.Fatal(err)
	}

	b.cluster.Kill()
	gone, cancelGone := context.WithTimeout(ctx, 5*time.Second)
	defer cancelGone()
	if err := ana.Wait(gone, "Ben gone from Ana's list", func() bool {
		_, ok := ana.Participant(ben.ID())
		return !ok
	}); err != nil {
		t.Fatalf("%v: %+v", err, ana.Participants())
	}
	waitUntil(t, ctx, "node A to count one node", func() bool { return a.cluster.Stats().Nodes == 1 })
}

// NATS away for 10 seconds: the media already flowing between the nodes
// keeps flowing, nobody leaves a list, and what changed meanwhile (a
// viewer who joined on the other node) is known everywhere once NATS is
// back.
func TestClusterNATSAway(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	port, dir := freePort(t), t.TempDir()
	ns := startNATSAt(t, port, dir)
	url := ns.ClientURL()
	a, urlA := runNode(t, url)
	b, urlB := runNode(t, url)
	waitNodes(t, ctx, a, b)
	streamer := goLive(t, ctx, urlA, "show", testclient.Options{Name: "Sam"})
	defer streamer.Close()
	v := joinAudience(t, ctx, urlB, "show", 1)[0]

	ns.Shutdown()
	ns.WaitForShutdown()
	waitUntil(t, ctx, "both nodes to lose NATS", func() bool {
		return !a.cluster.Stats().Connected && !b.cluster.Stats().Connected
	})
	// Away for 10 s (the outage the cluster must ride out; a wait on the
	// clock is the point here). Meanwhile a viewer joins on B.
	away := time.Now()
	before := v.Stats(webrtc.RTPCodecTypeVideo).Packets
	late := dial(t, ctx, urlB, testclient.Options{})
	defer late.Close()
	join(t, ctx, late, "show", signal.RoleAudience)
	waitMedia(t, ctx, "viewer who joined while NATS was away", late)
	for time.Since(away) < 10*time.Second {
		if _, ok := v.Participant(streamer.ID()); !ok {
			t.Fatalf("the streamer left the viewer's list while NATS was away: %+v", v.Participants())
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if got := v.Stats(webrtc.RTPCodecTypeVideo).Packets - before; got < 100 {
		t.Errorf("the viewer on B got %d video packets in the 10 s NATS was away, want them flowing", got)
	}
	expectNoLoss(t, "viewer", v)

	startNATSAt(t, port, dir)
	waitUntil(t, ctx, "both nodes to reconnect", func() bool {
		return a.cluster.Stats().Connected && b.cluster.Stats().Connected
	})
	back := time.Now()
	defer func() { t.Logf("caught up %v after NATS came back", time.Since(back)) }()
	if err := streamer.Wait(ctx, "the viewer who joined meanwhile counted on A", func() bool {
		st, ok := streamer.LastState()
		return ok && st.Viewers != nil && *st.Viewers == 2
	}); err != nil {
		st, _ := streamer.LastState()
		t.Fatalf("%v: %+v", err, st)
	}
	if err := late.SendChat("back"); err != nil {
		t.Fatal(err)
	}
	if err := streamer.Wait(ctx, "chat after NATS came back", func() bool { return hasChat(streamer, "back") }); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, ctx, a, b)
	expectNoLoss(t, "viewer", v)
}

// WHIP into node A, WHEP from node B: the player on B plays the
// broadcast published on A.
func TestClusterWHIPToWHEP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, urlA, _, urlB := twoNodes(t, ctx)

	pub, err := testclient.PublishWHIP(ctx, httpBase(urlA)+"/whip/obs", testclient.HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	watcher := dial(t, ctx, urlA, testclient.Options{})
	defer watcher.Close()
	join(t, ctx, watcher, "obs", signal.RoleAudience)
	waitMedia(t, ctx, "viewer on A", watcher)
	// Live: the player's first try plays, though nothing of the broadcast
	// was on B before it came.
	player, err := testclient.PlayWHEP(ctx, httpBase(urlB)+"/whep/obs", testclient.HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	waitUntil(t, ctx, "WHEP audio and video on B", func() bool {
		return player.Packets(webrtc.RTPCodecTypeAudio) > 25 && player.Packets(webrtc.RTPCodecTypeVideo) > 25
	})
}

// Two streamers going live on two nodes at the same moment: one gets the
// broadcast, the other already_live; once the first leaves, the stage is
// free again.
func TestClusterOneStreamer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, urlA, _, urlB := twoNodes(t, ctx)

	streamers := []*testclient.Client{dial(t, ctx, urlA, testclient.Options{}), dial(t, ctx, urlB, testclient.Options{})}
	defer streamers[0].Close()
	defer streamers[1].Close()
	done := make(chan error, 2)
	for _, s := range streamers {
		go func() { done <- s.Join(ctx, "show", signal.RoleStage) }()
	}
	for range streamers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// Join returns at joined or at an error.
	var won, lost []*testclient.Client
	for _, s := range streamers {
		if s.ID() != "" && len(s.Errors()) == 0 {
			won = append(won, s)
		} else {
			lost = append(lost, s)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d streamers got the broadcast, want 1", len(won))
	}
	if errs := lost[0].Errors(); len(errs) == 0 || errs[0].Code != signal.CodeAlreadyLive {
		t.Fatalf("the second streamer got %+v, want already_live", errs)
	}
	won[0].Close()
	waitUntil(t, ctx, "the stage free again", func() bool {
		c := dial(t, ctx, []string{urlA, urlB}[slices.Index(streamers, lost[0])], testclient.Options{})
		defer c.Close()
		return c.Join(ctx, "show", signal.RoleStage) == nil && c.ID() != "" && len(c.Errors()) == 0
	})
}

// The host on node A invites a viewer on node B to the stage: the guest
// accepts and publishes, the host receives them, and the host sends them
// back to the audience.
func TestClusterInvitation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, urlA, _, urlB := twoNodes(t, ctx)

	host := goLive(t, ctx, urlA, "talk", testclient.Options{Name: "Host"})
	defer host.Close()
	guest := joinAudience(t, ctx, urlB, "talk", 1)[0]
	if err := host.Wait(ctx, "the guest in the host's list", func() bool {
		_, ok := host.Participant(guest.ID())
		return ok
	}); err != nil {
		t.Fatal(err)
	}
	inviteToStage(t, ctx, host, guest)
	if err := host.WaitFrom(ctx, guest.ID(), "video", 20); err != nil {
		t.Fatalf("the host on A receiving the guest on B: %v", err)
	}
	if err := host.Move(guest.ID(), signal.RoleAudience); err != nil {
		t.Fatal(err)
	}
	if err := guest.Wait(ctx, "back in the audience", func() bool {
		r := guest.Roles()
		return len(r) > 0 && r[len(r)-1] == signal.RoleAudience
	}); err != nil {
		t.Fatalf("%v: %v", err, guest.Roles())
	}
	if errs := host.Errors(); len(errs) > 0 {
		t.Errorf("the host got errors: %+v", errs)
	}
}
