package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// The cluster workload is W1 across three meetd nodes joined through NATS
// (docs/cluster.md): the publisher on the origin, the subscribers split
// over two edges, so that each track crosses each node link once and each
// edge fans it out to its own half. It measures each node apart, from
// its own /proc: the origin's CPU per packet it sends the edges, each
// edge's per packet its subscribers receive (as W1 counts it), and the
// origin's CPU with one subscriber per edge and then with all of them,
// which should not differ: the origin sends one copy per edge whatever
// the audience. NATS runs inside the tool; the nodes share the server's
// core, as one meetd does in W1.

// clusterNode is one meetd of the cluster workload.
type clusterNode struct {
	name string
	srv  *server
	// r holds the node's clients and what they received: the publisher
	// on the origin, the subscribers on an edge.
	r *run
}

// nodeResult is what the cluster workload reports of one node.
type nodeResult struct {
	Node        string `json:"node"`
	Role        string `json:"role"` // origin or edge
	Subscribers int    `json:"subscribers"`
	// ForwardedPPS is, on the origin, the packets it sent the edges (its
	// meetd_rtp_forwarded_packets_total, retransmissions not counted);
	// on an edge, the packets its subscribers received, as W1 counts.
	ForwardedPPS float64 `json:"forwarded_pps"`
	// CountedPPS is the packets the node sent by its own count
	// (meetd_rtp_forwarded_packets_total): on an edge, beside
	// ForwardedPPS, it shows that the subscribers got them from this node.
	CountedPPS  float64 `json:"counted_pps,omitempty"`
	CPUUsPerPkt float64 `json:"cpu_us_per_pkt"`
	Cores       float64 `json:"cores"`
	// The edges' subscribers' latency (send stamp to socket), loss and
	// late packets; none on the origin, which has no subscribers.
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	Loss   uint64  `json:"loss"`
	Late   uint64  `json:"late"`
	RSSMiB float64 `json:"rss_mib"`
}

// clusterResult is the cluster workload's own part of its result.
type clusterResult struct {
	Nodes []nodeResult `json:"nodes"`
	// The origin in a first window with SmallAudience subscribers, one
	// per edge, before the others join: its cores and the packets it sent
	// the edges a second. Nodes[0] is the origin with the whole audience.
	SmallAudience    int     `json:"small_audience"`
	OriginCoresSmall float64 `json:"origin_cores_small"`
	OriginPPSSmall   float64 `json:"origin_pps_small"`
	OriginUsSmall    float64 `json:"origin_us_per_pkt_small"`
}

// clusterEdges is how many edge nodes the workload's audience is split over.
const clusterEdges = 2

// runCluster runs the cluster workload. It measures no floor: the
// comparison it is for is with W1 on one node.
func runCluster(cfg *config, wl workload) result {
	c := &clusterRun{cfg: cfg, wl: wl, res: result{Workload: wl.kind, Subscribers: wl.n}}
	if err := c.do(); err != nil {
		c.res.Error = err.Error()
	}
	return c.res
}

type clusterRun struct {
	cfg   *config
	wl    workload
	res   result
	nodes []*clusterNode // the origin, then the edges
}

func (c *clusterRun) do() error {
	if c.cfg.url != "" {
		return errors.New("the cluster workload starts its own nodes: it cannot load -url")
	}
	if c.wl.n < clusterEdges {
		return fmt.Errorf("the cluster workload needs at least %d subscribers, one per edge", clusterEdges)
	}
	dir, err := os.MkdirTemp("", "meetload-nats-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		return fmt.Errorf("NATS server: %w", err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("the in-process NATS server did not start in 10 s")
	}

	arr := new(arrivals)
	api, err := clientAPI(arr)
	if err != nil {
		return err
	}
	defer c.stop()
	c.res.Cluster = &clusterResult{SmallAudience: clusterEdges}
	for _, name := range []string{"origin", "edge-a", "edge-b"} {
		args := append([]string{"-nats", ns.ClientURL(), "-node-name", name, "-node-media-addr", "127.0.0.1"}, c.cfg.meetdArgs...)
		srv, err := startServer(c.cfg.meetd, args, c.cfg.serverCPU, false, c.cfg.meetdLog)
		if err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		r := &run{cfg: c.cfg, wl: c.wl, srv: srv, api: api}
		r.w.arrivals, r.w.settle = arr, int64(joinSettle)
		c.nodes = append(c.nodes, &clusterNode{name: name, srv: srv, r: r})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second+time.Duration(c.wl.n)*200*time.Millisecond)
	defer cancel()
	if err := c.waitMetric(ctx, "the nodes to see each other", "meetd_cluster_nodes", len(c.nodes), c.nodes...); err != nil {
		return err
	}

	const room = "load"
	origin := c.nodes[0]
	pub, err := testclient.Dial(ctx, origin.srv.url, testclient.Options{API: api, Media: syntheticMedia})
	if err != nil {
		return err
	}
	origin.r.mu.Lock()
	origin.r.subs = append(origin.r.subs, &subscriber{c: pub, r: newReceiver(&origin.r.w)})
	origin.r.mu.Unlock()
	if err := joinOrRefused(ctx, pub, signal.KindBroadcast, room, signal.RoleStage); err != nil {
		return err
	}
	if err := pub.Publish(ctx); err != nil {
		return err
	}
	time.Sleep(time.Second)
	var base [3]int64
	for i, n := range c.nodes {
		if base[i], err = procRSS(n.srv.pid); err != nil {
			return err
		}
	}

	// A first window with one subscriber per edge, then one with all.
	small, err := c.join(ctx, room, 1)
	if err != nil {
		return err
	}
	if err := c.waitMetric(ctx, "the origin's links to both edges", `meetd_cluster_links{direction="out"}`, clusterEdges, origin); err != nil {
		return err
	}
	c.cfg.logf("%s: origin and %d edges linked; measuring with %d subscribers", c.wl, clusterEdges, clusterEdges)
	first, err := c.measure(small, false)
	if err == nil {
		err = first.err
	}
	if err != nil {
		return fmt.Errorf("with %d subscribers: %w", clusterEdges, err)
	}
	c.res.Cluster.OriginCoresSmall = first.nodes[0].Cores
	c.res.Cluster.OriginPPSSmall = first.nodes[0].ForwardedPPS
	c.res.Cluster.OriginUsSmall = first.nodes[0].CPUUsPerPkt

	c.cfg.logf("%s: %d more subscribers joining", c.wl, c.wl.n-clusterEdges)
	rest, err := c.joinRest(ctx, room)
	if err != nil {
		return err
	}
	var subs [clusterEdges][]*subscriber
	for e := range clusterEdges {
		subs[e] = append(small[e], rest[e]...)
	}
	all, err := c.measure(subs, true)
	if err != nil {
		return err
	}
	c.res.Cluster.Nodes = all.nodes
	for i, n := range c.nodes {
		rss, err := procRSS(n.srv.pid)
		if err != nil {
			return err
		}
		c.res.Cluster.Nodes[i].RSSMiB = round(float64(rss)/(1<<20), 1)
		c.res.RSSMiB += c.res.Cluster.Nodes[i].RSSMiB
		c.res.RSSPerSubMiB += float64(rss-base[i]) / (1 << 20) / float64(c.wl.n)
	}
	c.res.RSSMiB = round(c.res.RSSMiB, 1)
	c.res.RSSPerSubMiB = round(c.res.RSSPerSubMiB, 3)
	return all.err
}

// edges are the edge nodes.
func (c *clusterRun) edges() []*clusterNode { return c.nodes[1:] }

// stop closes every client and stops the nodes.
func (c *clusterRun) stop() {
	for _, n := range c.nodes {
		n.r.closeAll()
	}
	for _, n := range c.nodes {
		if err := n.srv.stop(); err != nil {
			c.cfg.logf("%s: stopping node %s: %v", c.wl, n.name, err)
		}
	}
}

// join connects per subscribers to each edge and waits for their video.
func (c *clusterRun) join(ctx context.Context, room string, per int) ([clusterEdges][]*subscriber, error) {
	var subs [clusterEdges][]*subscriber
	for e, n := range c.edges() {
		s, err := n.r.addSubscribers(ctx, per, room)
		if err != nil {
			return subs, fmt.Errorf("subscribers of %s: %w", n.name, err)
		}
		if err := n.r.waitVideo(ctx, s, 1); err != nil {
			return subs, fmt.Errorf("subscribers of %s: %w", n.name, err)
		}
		subs[e] = s
	}
	return subs, nil
}

// joinRest connects the subscribers after the first one of each edge,
// half of the audience to each edge, the first edge the odd one.
func (c *clusterRun) joinRest(ctx context.Context, room string) ([clusterEdges][]*subscriber, error) {
	var subs [clusterEdges][]*subscriber
	for e, n := range c.edges() {
		want := c.wl.n / clusterEdges
		if e < c.wl.n%clusterEdges {
			want++
		}
		if want <= 1 {
			continue
		}
		s, err := n.r.addSubscribers(ctx, want-1, room)
		if err != nil {
			return subs, fmt.Errorf("subscribers of %s: %w", n.name, err)
		}
		if err := n.r.waitVideo(ctx, s, 1); err != nil {
			return subs, fmt.Errorf("subscribers of %s: %w", n.name, err)
		}
		subs[e] = s
	}
	return subs, nil
}

// clusterWindow is what one measuring window found on every node; err
// says which figures could not be had.
type clusterWindow struct {
	nodes []nodeResult
	err   error
}

// measure runs a measuring window over all the nodes at once: each
// node's CPU and the origin's forwarded packets and, with audience, what
// each edge's subscribers (subs) received, and the whole run's figures in
// c.res. Without, the subscribers count nothing: the first window is for
// the origin's figures, and the edges' windows stay clean for the second.
func (c *clusterRun) measure(subs [clusterEdges][]*subscriber, audience bool) (clusterWindow, error) {
	var all []*subscriber
	for e := range subs {
		all = append(all, subs[e]...)
	}
	c.setups(all)
	for _, s := range all {
		if c.res.SRTPProfile = s.c.SRTPProfile(); c.res.SRTPProfile != "" {
			break
		}
	}
	time.Sleep(c.cfg.warmup)

	origin := c.nodes[0]
	fwd0 := make([]float64, len(c.nodes))
	cpu0 := make([]time.Duration, len(c.nodes))
	var err error
	for i, n := range c.nodes {
		if fwd0[i], err = forwardedPackets(n.srv); err != nil {
			return clusterWindow{}, err
		}
		if cpu0[i], err = procCPU(n.srv.pid); err != nil {
			return clusterWindow{}, err
		}
	}
	self0, _ := procCPU(os.Getpid())
	core0, coreErr := readCoreTimes(c.cfg.serverCPU)
	keys0 := origin.r.keyframeRequests()
	t0 := time.Now()
	for _, e := range c.edges() {
		e.r.w.measuring.Store(audience)
	}
	time.Sleep(c.cfg.duration)
	for _, e := range c.edges() {
		e.r.w.measuring.Store(false)
	}
	elapsed := time.Since(t0)
	cpu := make([]time.Duration, len(c.nodes))
	fwd := make([]float64, len(c.nodes))
	var total time.Duration
	for i, n := range c.nodes {
		now, err := procCPU(n.srv.pid)
		if err != nil {
			return clusterWindow{}, err
		}
		cpu[i] = now - cpu0[i]
		total += cpu[i]
		if fwd[i], err = forwardedPackets(n.srv); err != nil {
			return clusterWindow{}, err
		}
		fwd[i] -= fwd0[i]
	}
	self1, _ := procCPU(os.Getpid())
	core1, err := readCoreTimes(c.cfg.serverCPU)
	var errs []error
	win := clusterWindow{nodes: []nodeResult{{Node: origin.name, Role: "origin"}}}
	o := &win.nodes[0]
	o.Cores = round(cpu[0].Seconds()/elapsed.Seconds(), 3)
	if sent := fwd[0]; sent > 0 {
		o.ForwardedPPS = round(sent/elapsed.Seconds(), 0)
		o.CountedPPS = o.ForwardedPPS
		o.CPUUsPerPkt = round(float64(cpu[0])/float64(time.Microsecond)/sent, 3)
	} else {
		errs = append(errs, errors.New("the origin sent the edges nothing in the window"))
	}
	if !audience {
		win.err = errors.Join(errs...)
		return win, nil
	}
	c.res.OthersOnServerCore = -1
	if coreErr == nil && err == nil && c.cfg.serverCPU >= 0 {
		c.res.OthersOnServerCore = othersShare(core0, core1, total, elapsed)
	}
	c.res.LoadAvg = loadAvg()
	c.res.KeyframeReqs = origin.r.keyframeRequests() - keys0
	now := nowNanos()

	// The whole audience's figures, as W1's, with the three nodes' CPU.
	w := new(window)
	for i, e := range c.edges() {
		e.r.mu.Lock()
		for _, s := range e.r.subs {
			e.r.w.freezes.Add(uint64(s.r.stalled(now)))
		}
		e.r.mu.Unlock()
		w.add(&e.r.w)
		var er result
		if err := er.fill(windowTotals{elapsed: elapsed, server: cpu[1+i]}, &e.r.w); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
		}
		win.nodes = append(win.nodes, nodeResult{
			Node: e.name, Role: "edge", Subscribers: len(subs[i]),
			ForwardedPPS: er.ForwardedPPS, CPUUsPerPkt: er.CPUUsPerPkt, Cores: er.ServerCores,
			P50Ms: er.P50Ms, P99Ms: er.P99Ms, Loss: er.Loss, Late: er.Late,
			CountedPPS: round(fwd[1+i]/elapsed.Seconds(), 0),
		})
		if fwd[1+i] <= 0 {
			errs = append(errs, fmt.Errorf("%s forwarded nothing in the window", e.name))
		}
	}
	errs = append(errs, c.res.fill(windowTotals{elapsed: elapsed, server: total, client: self1 - self0}, w))
	win.err = errors.Join(errs...)
	return win, nil
}

// setups records the setup times of the whole audience.
func (c *clusterRun) setups(subs []*subscriber) {
	r := run{res: c.res}
	r.setups(subs)
	c.res.SetupP50Ms, c.res.SetupMaxMs = r.res.SetupP50Ms, r.res.SetupMaxMs
}

// add adds o's counts to w's; both are done with.
func (w *window) add(o *window) {
	w.packets.Add(o.packets.Load())
	w.lost.Add(o.lost.Load())
	w.late.Add(o.late.Load())
	w.freezes.Add(o.freezes.Load())
	w.joinFreezes.Add(o.joinFreezes.Load())
	w.sourcePauses.Add(o.sourcePauses.Load())
	w.unstamped.Add(o.unstamped.Load())
	for i := range w.latency.buckets {
		w.latency.buckets[i].Add(o.latency.buckets[i].Load())
		w.readLatency.buckets[i].Add(o.readLatency.buckets[i].Load())
	}
	for i := range w.sizes {
		w.sizes[i].Add(o.sizes[i].Load())
	}
}

// waitMetric waits until metric (name and labels, as /metrics writes
// them) reads want on each of nodes.
func (c *clusterRun) waitMetric(ctx context.Context, what, metric string, want int, nodes ...*clusterNode) error {
	for {
		ok := true
		for _, n := range nodes {
			v, err := scrape(n.srv, metric)
			if err != nil || v != float64(want) {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// forwardedPackets is the packets meetd s has forwarded, all kinds.
func forwardedPackets(s *server) (float64, error) {
	return scrape(s, "meetd_rtp_forwarded_packets_total")
}

// scrape sums the samples of metric on s's /metrics: metric is a name,
// which takes every label set, or a name with its labels.
func scrape(s *server, metric string) (float64, error) {
	resp, err := http.Get(strings.Replace(strings.Replace(s.url, "ws://", "http://", 1), "/ws", "/metrics", 1))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		if name != metric && !(strings.HasPrefix(name, metric+"{") && !strings.Contains(metric, "{")) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return 0, fmt.Errorf("/metrics %s: %w", name, err)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("/metrics has no %s", metric)
	}
	return sum, nil
}

// printClusters prints each cluster run's nodes, the origin with a small
// audience and the whole one, and its latency beside that of W1 runs of
// the same report: at the same audience, and at one edge's.
func printClusters(out io.Writer, results []result) {
	for _, r := range results {
		cl := r.Cluster
		if cl == nil || len(cl.Nodes) == 0 || cl.Nodes[0].ForwardedPPS == 0 {
			continue
		}
		fmt.Fprintf(out, "\n%s:%d by node (the nodes share the server's core):\n", r.Workload, r.Subscribers)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "node\trole\tsubscribers\tpkt/s\tmeetd's count\tµs/pkt\tcores\tp50 ms\tp99 ms\tloss\tlate\tRSS MiB\t")
		for _, n := range cl.Nodes {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.0f\t%.2f\t%.3f\t%.2f\t%.2f\t%d\t%d\t%.1f\t\n",
				n.Node, n.Role, n.Subscribers, n.ForwardedPPS, n.CountedPPS, n.CPUUsPerPkt, n.Cores, n.P50Ms, n.P99Ms, n.Loss, n.Late, n.RSSMiB)
		}
		_ = tw.Flush()
		o := cl.Nodes[0]
		growth := "-"
		if cl.OriginCoresSmall > 0 {
			growth = fmt.Sprintf("%.2f×", o.Cores/cl.OriginCoresSmall)
		}
		fmt.Fprintf(out, "origin (pkt/s: sent to the edges): %.3f cores, %.0f pkt/s, %.2f µs/pkt with %d subscribers; %.3f cores (%s), %.0f pkt/s, %.2f µs/pkt with %d\n",
			cl.OriginCoresSmall, cl.OriginPPSSmall, cl.OriginUsSmall, cl.SmallAudience, o.Cores, growth, o.ForwardedPPS, o.CPUUsPerPkt, r.Subscribers)
		for _, w := range results {
			if w.Workload != "w1" || w.P50Ms <= 0 || (w.Subscribers != r.Subscribers && w.Subscribers != cl.Nodes[1].Subscribers) {
				continue
			}
			fmt.Fprintf(out, "latency p50 %.2f ms through the hop, w1:%d's on one node %.2f ms: %+.2f ms\n",
				r.P50Ms, w.Subscribers, w.P50Ms, r.P50Ms-w.P50Ms)
		}
	}
}
