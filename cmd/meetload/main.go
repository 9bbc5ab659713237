// Command meetload loads a running meetd over its real protocol, on
// loopback, and reports how much server CPU each forwarded packet costs
// next to the floor measured in the same run once meetd is idle: the
// same packets sealed in place with AES-GCM and sent with batched
// sendmmsg to as many sockets, on meetd's core (floor.go). Beside it, the
// kernel's own cost per datagram of sendto, sendmmsg and UDP GSO
// (limits.go). See docs/performance.md.
//
// Workloads: w1 (broadcast: one publisher, N subscribers), w2 (meeting: N
// participants each publishing and receiving all others), w3 (churn: w1
// while subscribers leave and join continuously) and w4 (simulcast: w1
// with the camera in three layers, and subscribers showing it small,
// medium and large); cluster is w1 over three meetd nodes (cluster.go).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

type config struct {
	// record has W2's host record the meeting (meetd needs -record-dir).
	record       bool
	meetd        string
	meetdArgs    []string
	url          string
	pid          int
	serverCPU    int
	duration     time.Duration
	warmup       time.Duration
	concurrency  int
	churnRate    float64
	pprofDir     string
	floorPackets int
	limits       bool
	meetdLog     io.Writer
	quiet        bool
	// lightReaders and lightPoll shape how light viewers read (light.go).
	lightReaders int
	lightPoll    time.Duration
	// windowCPUs are the cores meetd may use in the window, "" for those
	// it started with.
	windowCPUs string
}

func (c *config) logf(format string, args ...any) {
	if !c.quiet {
		fmt.Fprintf(os.Stderr, "meetload: "+format+"\n", args...)
	}
}

// server starts a fresh meetd for a run, or names the one given.
func (c *config) server() (*server, error) {
	if c.url != "" {
		return &server{pid: c.pid, url: c.url}, nil
	}
	return startServer(c.meetd, c.meetdArgs, c.serverCPU, c.pprofDir != "", c.meetdLog)
}

func main() {
	if err := mainErr(os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "meetload:", err)
			os.Exit(1)
		}
	}
}

func mainErr(args []string, out io.Writer) error {
	cfg := &config{meetdLog: os.Stderr}
	fs := flag.NewFlagSet("meetload", flag.ContinueOnError)
	workloads := fs.String("workloads", "w1:100", "comma-separated runs, KIND:N, KIND one of w1 (broadcast), w2 (meeting), w3 (churn), w4 (simulcast), w1light (w1 with light viewers: pion only for the handshake, then counted at the socket), cluster (w1 on three nodes joined through NATS: the publisher on one, the subscribers split over the two others)")
	fs.StringVar(&cfg.meetd, "meetd", "bin/meetd", "meetd binary to start for each run")
	meetdArgs := fs.String("meetd-args", "", "extra space-separated flags for the meetd started, such as \"-udp-port 0\"")
	fs.StringVar(&cfg.url, "url", "", "load this running meetd (ws://127.0.0.1:PORT/ws) instead of starting one; needs -pid. Start it with -ip-max-connections 0 -ip-max-rooms 0 -ip-rooms-per-minute 0 -ip-max-sessions 0: every client comes from one address")
	fs.IntVar(&cfg.pid, "pid", 0, "process id of the meetd given by -url, to read its CPU time and memory")
	defCPU := -1
	if runtime.NumCPU() >= 2 {
		defCPU = 0
	}
	fs.IntVar(&cfg.serverCPU, "server-cpu", defCPU, "core to pin meetd (with taskset) and the floor measurement to; -1: none")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measuring window")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "time between setup and the measuring window")
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "subscribers connecting at once")
	fs.Float64Var(&cfg.churnRate, "churn-rate", 10, "w3: subscribers replaced per second")
	fs.StringVar(&cfg.pprofDir, "pprof-dir", "", "start meetd with -pprof and save a CPU profile of each window in this directory")
	fs.IntVar(&cfg.floorPackets, "floor-packets", 100000, "packets the floor measurement sends, each pass")
	fs.BoolVar(&cfg.limits, "limits", true, "measure the kernel's cost per datagram of sendto, sendmmsg and UDP GSO first")
	views := fs.String("views", "small,medium,large", "w4: the sizes subscribers show the video at, in turn: small, medium or large")
	fs.BoolVar(&cfg.quiet, "q", false, "no progress on stderr")
	fs.StringVar(&cfg.windowCPUs, "server-cpus", "", "cores meetd may use in the measuring window, a taskset list such as 0 or 0,1, set on all its threads once the subscribers have joined (Go then sets its GOMAXPROCS to match within a second or so); empty: those it started with")
	fs.IntVar(&cfg.lightReaders, "light-readers", 2, "w1light: goroutines that read the light viewers' sockets")
	fs.DurationVar(&cfg.lightPoll, "light-poll", 5*time.Millisecond, "w1light: how long a reader sleeps between rounds of reads, so that each reads many datagrams")
	fs.BoolVar(&cfg.record, "record", false, "w2: the host records the meeting during the window (start meetd with -meetd-args \"-record-dir DIR -ffmpeg none\")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.meetdArgs = strings.Fields(*meetdArgs)
	if cfg.url != "" && cfg.pid == 0 {
		return errors.New("-url needs -pid")
	}
	if !strings.HasPrefix(cfg.url, "ws://127.0.0.1:") && cfg.url != "" {
		return errors.New("-url must be on 127.0.0.1: load stays on loopback")
	}
	if cfg.duration <= 0 || cfg.duration > 10*time.Minute {
		return errors.New("-duration must be between 0 and 10m")
	}
	if cfg.lightReaders < 1 || cfg.lightReaders > 64 || cfg.lightPoll < 0 || cfg.lightPoll > 100*time.Millisecond {
		return errors.New("-light-readers must be from 1 to 64, -light-poll from 0 to 100ms")
	}
	if cfg.churnRate <= 0 || cfg.churnRate > 100 {
		return errors.New("-churn-rate must be between 0 and 100")
	}
	if cfg.pprofDir != "" {
		if err := os.MkdirAll(cfg.pprofDir, 0o755); err != nil {
			return err
		}
	}
	var viewIdx []int
	for _, v := range strings.Split(*views, ",") {
		i := slices.IndexFunc(w4Views[:], func(w viewSize) bool { return w.name == strings.TrimSpace(v) })
		if i < 0 {
			return fmt.Errorf("-views: %q is not small, medium or large", v)
		}
		viewIdx = append(viewIdx, i)
	}
	var wls []workload
	for _, s := range strings.Split(*workloads, ",") {
		kind, n, ok := strings.Cut(strings.TrimSpace(s), ":")
		count, err := strconv.Atoi(n)
		most := 1000
		if kind == "w1light" {
			most = 20000
		}
		if !ok || err != nil || count < 1 || count > most || !slices.Contains([]string{"w1", "w2", "w3", "w4", "w1light", "cluster"}, kind) ||
			kind == "cluster" && count < clusterEdges {
			return fmt.Errorf("workload %q: want w1:N, w2:N, w3:N or w4:N, N from 1 to 1000, w1light:N, N up to 20000, or cluster:N, N from 2 to 1000", s)
		}
		wls = append(wls, workload{kind: kind, n: count, views: viewIdx})
	}
	warnSharedCore(cfg)

	rep := report{meetd: cfg.build()}
	cfg.logf("measuring %s", rep.meetd)
	if cfg.limits {
		// Before any meetd runs: the core is the limits' alone.
		cfg.logf("limits: measuring sendto, sendmmsg and UDP GSO")
		l := measureLimits(cfg.serverCPU, limitRounds)
		rep.limits = &l
	}
	for _, wl := range wls {
		cfg.logf("%s: starting", wl)
		res := runWorkload(cfg, wl)
		res.MeetdBuild = &rep.meetd
		if res.Error != "" {
			cfg.logf("%s: %s", wl, res.Error)
		}
		rep.results = append(rep.results, res)
	}
	printTable(out, rep)
	// The last lines: one JSON object per workload, then the limits'.
	enc := json.NewEncoder(out)
	for _, r := range rep.results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	if rep.limits != nil {
		return enc.Encode(struct {
			Limits *limits `json:"limits"`
		}{rep.limits})
	}
	return nil
}

// build is the build of the meetd the runs load: the binary started, or
// the running one's.
func (c *config) build() buildStamp {
	if c.url != "" {
		b := readBuild(fmt.Sprintf("/proc/%d/exe", c.pid))
		b.Path = fmt.Sprintf("meetd (pid %d)", c.pid)
		return b
	}
	return readBuild(c.meetd)
}

// report is what the tool prints.
type report struct {
	meetd   buildStamp
	limits  *limits // nil when not measured
	results []result
}

// warnSharedCore says so when the tool may run on the server's core, which
// would charge the tool's work to the machine the server measures on.
func warnSharedCore(cfg *config) {
	if cfg.serverCPU < 0 {
		return
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil && set.IsSet(cfg.serverCPU) {
		cfg.logf("this tool may run on core %d, meetd's; run it with taskset -c N (another core), as make bench does",
			cfg.serverCPU)
	}
}

func printTable(out io.Writer, rep report) {
	results := rep.results
	fmt.Fprintf(out, "meetd %s\n", rep.meetd)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tN\tpkt/s\tµs/pkt\tfloor µs\tratio\tp50 ms\tp99 ms\tp99.9 ms\tread p50\tread p99\tloss\tlate\tfreezes\tsetup p50 ms\tRSS/sub MiB\tserver cores\tclient cores\tload\t")
	// failed did not run; incomplete ran, but some figures in their rows
	// could not be had and are 0.
	var failed, incomplete []result
	for _, r := range results {
		if r.Error != "" && r.ForwardedPPS == 0 {
			failed = append(failed, r)
			continue
		}
		if r.Error != "" {
			incomplete = append(incomplete, r)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t%.0f\t%.3f\t%.2f\t%.2f\t%.1f\t\n",
			r.Workload, r.Subscribers, r.ForwardedPPS, r.CPUUsPerPkt, r.FloorUsPerPkt, r.RatioToFloor,
			r.P50Ms, r.P99Ms, r.P999Ms, r.ReadP50Ms, r.ReadP99Ms, r.Loss, r.Late, r.Freezes, r.SetupP50Ms, r.RSSPerSubMiB, r.ServerCores, r.ClientCores, r.LoadAvg)
	}
	_ = tw.Flush()
	for _, r := range results {
		if len(r.Layers) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(r.Layers)) {
				parts = append(parts, fmt.Sprintf("%s %d", k, r.Layers[k]))
			}
			fmt.Fprintf(out, "%s:%d subscribers by view and layer: %s\n", r.Workload, r.Subscribers, strings.Join(parts, ", "))
		}
	}
	for _, r := range results {
		if r.Joins > 0 {
			fmt.Fprintf(out, "%s:%d newcomers: %d, video after %.0f ms (p50), %.0f ms (max); %d freezes in their first %v\n",
				r.Workload, r.Subscribers, r.Joins, r.SetupP50Ms, r.SetupMaxMs, r.JoinFreezes, joinSettle)
		}
		if r.SourcePauses > 0 || r.OthersOnServerCore > 0.05 {
			fmt.Fprintf(out, "%s:%d: the publisher paused %d times; other processes took %.0f%% of the server's core\n",
				r.Workload, r.Subscribers, r.SourcePauses, 100*r.OthersOnServerCore)
		}
	}
	for _, r := range incomplete {
		fmt.Fprintf(out, "%s:%d: %s\n", r.Workload, r.Subscribers, r.Error)
	}
	for _, r := range failed {
		fmt.Fprintf(out, "%s:%d did not run: %s\n", r.Workload, r.Subscribers, r.Error)
	}
	printClusters(out, results)
	if l := rep.limits; l != nil {
		printLimits(out, l)
	}
}

// printLimits prints the limits as a table of their own.
func printLimits(out io.Writer, l *limits) {
	fmt.Fprintf(out, "\nlimits: the kernel's CPU per datagram in a hot loop, %d-byte datagrams to %d loopback sockets, on the server's core\n",
		l.Bytes, l.Destinations)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "send\tdatagrams a call\tµs/datagram\t")
	for _, row := range []struct {
		name string
		n    int
		us   float64
	}{{"sendto", 1, l.SendtoUs}, {"sendmmsg", l.Batch, l.SendmmsgUs}, {"UDP GSO", l.GSOSegments, l.GSOUs}} {
		us := "-"
		if row.us > 0 {
			us = fmt.Sprintf("%.2f", row.us)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t\n", row.name, row.n, us)
	}
	_ = tw.Flush()
	if l.Error != "" {
		fmt.Fprintf(out, "limits: %s\n", l.Error)
	}
}
