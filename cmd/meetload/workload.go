package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// workload is one run: W1 broadcast, W2 meeting, W3 churn or W4
// simulcast broadcast, with n subscribers (W2: n participants).
type workload struct {
	kind string
	n    int
	// views are the sizes W4's subscribers show the video at, in turn, as
	// indexes of w4Views.
	views []int
}

// fanout is how many subscribers each published packet goes to; in W4,
// on average: audio goes to all, each layer to those who view its size
// (meetd pauses a layer nobody views).
func (w workload) fanout() int {
	switch w.kind {
	case "w2":
		return max(w.n-1, 1)
	case "w4":
		audio := float64(keyframeEvery / audioInterval)
		published, forwarded := audio, audio*float64(w.n)
		for i, l := range simLayers {
			if w.viewers(i) == 0 {
				continue
			}
			published += l.perInterval()
			forwarded += l.perInterval() * float64(w.viewers(i))
		}
		return max(int(math.Round(forwarded/published)), 1)
	}
	return w.n
}

// w4Views are the sizes W4's subscribers can show the video at: small,
// medium and large, which take the quarter, half and full layer.
var w4Views = [len(simLayers)]viewSize{{"small", 320, 180}, {"medium", 640, 360}, {"large", 1280, 720}}

type viewSize struct {
	name          string
	width, height int
}

// view is the index in w4Views of the size W4's subscriber i shows.
func (w workload) view(i int) int { return w.views[i%len(w.views)] }

// viewers is how many of W4's subscribers show the video at w4Views[v].
func (w workload) viewers(v int) int {
	n := 0
	for i := range w.n {
		if w.view(i) == v {
			n++
		}
	}
	return n
}

func (w workload) String() string { return fmt.Sprintf("%s:%d", w.kind, w.n) }

// result is what a run reports; its JSON is the tool's output.
type result struct {
	Workload      string  `json:"workload"`
	Subscribers   int     `json:"subscribers"`
	Seconds       float64 `json:"seconds"`
	ForwardedPPS  float64 `json:"forwarded_pps"`
	CPUUsPerPkt   float64 `json:"cpu_us_per_pkt"`
	FloorUsPerPkt float64 `json:"floor_us_per_pkt"`
	RatioToFloor  float64 `json:"ratio_to_floor"`
	ServerCores   float64 `json:"server_cores"`
	ClientCores   float64 `json:"client_cores"`
	SRTPProfile   string  `json:"srtp_profile"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	P999Ms        float64 `json:"p999_ms"`
	// FloorPassesUs are the floor's passes, of which FloorUsPerPkt is the
	// median; PacketBytes is the mean size of the RTP packets forwarded
	// (before SRTP), which the floor sends.
	FloorPassesUs []float64 `json:"floor_passes_us,omitempty"`
	PacketBytes   float64   `json:"packet_bytes"`
	// The same to the subscriber's read of the track, after the load
	// clients' own pion stacks, and the packets whose socket arrival was
	// not found (arrival.go).
	ReadP50Ms    float64 `json:"read_p50_ms"`
	ReadP99Ms    float64 `json:"read_p99_ms"`
	ReadP999Ms   float64 `json:"read_p999_ms"`
	Unstamped    uint64  `json:"unstamped"`
	Loss         uint64  `json:"loss"`
	Late         uint64  `json:"late"`
	LossRate     float64 `json:"loss_rate"`
	Freezes      uint64  `json:"freezes"`
	KeyframeReqs int64   `json:"keyframe_requests"`
	SetupP50Ms   float64 `json:"setup_p50_ms"`
	SetupMaxMs   float64 `json:"setup_max_ms"`
	RSSMiB       float64 `json:"rss_mib"`
	RSSPerSubMiB float64 `json:"rss_per_sub_mib"`
	// LoadAvg is the machine's 1-minute load average after the window:
	// above the core count, other work competed with the run.
	LoadAvg float64 `json:"loadavg"`

	// Freezes and the latencies above are those of subscribers already
	// watching (joinSettle); JoinFreezes are those of W3's newcomers
	// before, and Joins counts the newcomers whose video started.
	// SourcePauses are gaps the publisher made itself, in no count of
	// freezes.
	JoinFreezes  uint64 `json:"join_freezes"`
	Joins        int    `json:"joins,omitempty"`
	SourcePauses uint64 `json:"source_pauses"`
	// OthersOnServerCore is the share of the window the server's core
	// spent on other processes (contention.go); -1 unknown.
	OthersOnServerCore float64 `json:"others_on_server_core"`
	// Layers counts W4's subscribers by the size they show the video at
	// and the layer they received at the end of the window:
	// "320x180:q" and so on.
	Layers map[string]int `json:"layers,omitempty"`
	// Cluster has the cluster workload's figures of each node.
	Cluster *clusterResult `json:"cluster,omitempty"`
	// MeetdBuild is the build of meetd the run measured.
	MeetdBuild *buildStamp `json:"meetd_build,omitempty"`
	Error      string      `json:"error,omitempty"`
}

// subscriber is one load client and what it received.
type subscriber struct {
	c *testclient.Client
	r *receiver
	// light is the subscriber's light viewer (light.go), nil for a full
	// one; profile its SRTP profile, which its closed pion connection no
	// longer tells.
	light   *lightViewer
	profile string
}

// run is the state of one workload run.
type run struct {
	cfg *config
	wl  workload
	srv *server
	api *webrtc.API
	w   window
	res result

	// mu protects subs and gone.
	mu   sync.Mutex
	subs []*subscriber
	// gone are subscribers that left during a churn window.
	gone []*subscriber
	// light reads the light viewers' sockets (W1L), nil without any.
	light *lightReaders
}

// clientAPI is the pion API every load client shares: Opus and VP8, NACK
// and RTCP reports as a browser sends them, the MID and RID header
// extensions of simulcast, no decoding.
//
// No RTX: pion's NACK responder would resend a simulcast layer's packets
// on an RTX stream whose packets keep the layer's RID (a browser's carry
// the repaired RID instead), and meetd's pion would take that stream for
// the layer itself. Without RTX, retransmissions go on the layer's stream.
//
// Their sockets note when RTP arrives, in arr.
func clientAPI(arr *arrivals) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	feedback := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	for _, c := range []struct {
		kind   webrtc.RTPCodecType
		params webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
		}}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: feedback,
		}}},
	} {
		if err := m.RegisterCodec(c.params, c.kind); err != nil {
			return nil, err
		}
	}
	nw, err := newArrivalNet(arr)
	if err != nil {
		return nil, err
	}
	return testclient.NewAPIWith(testclient.Network{Net: nw}, m, func(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
		if err := webrtc.ConfigureNack(m, ir); err != nil {
			return err
		}
		if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
			return err
		}
		return webrtc.ConfigureRTCPReports(ir)
	})
}

func runWorkload(cfg *config, wl workload) result {
	if wl.kind == "cluster" {
		return runCluster(cfg, wl)
	}
	r := &run{cfg: cfg, wl: wl, res: result{Workload: wl.kind, Subscribers: wl.n}}
	err := r.do()
	if r.res.ForwardedPPS > 0 {
		// do has closed every client and stopped the meetd it started:
		// meetd is idle, and the floor has the core to itself.
		err = errors.Join(err, r.floor())
	}
	if err != nil {
		r.res.Error = err.Error()
	}
	return r.res
}

// floor measures the floor of the run's window: its fan-out, the sizes
// and mix of the packets its subscribers received, as often as they came,
// its SRTP profile's key length; floorPasses times, on meetd's core.
func (r *run) floor() error {
	keyLen, err := gcmKeyLen(r.res.SRTPProfile)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if r.cfg.url != "" {
		// A meetd the tool did not start keeps running: let it finish
		// with the clients that left.
		waitIdle(r.srv.pid, 10*time.Second)
	}
	spec := floorSpec{keyLen: keyLen, fanout: r.wl.fanout(), packets: r.cfg.floorPackets, mix: r.w.mix()}
	spec.interval = fanOutInterval(spec.fanout, r.res.ForwardedPPS)
	passes := make([]float64, 0, floorPasses)
	for range floorPasses {
		us, err := measureFloor(r.cfg.serverCPU, spec)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		passes = append(passes, us)
	}
	return r.res.setFloor(passes)
}

func (r *run) do() error {
	var err error
	r.w.arrivals = new(arrivals)
	r.w.settle = int64(joinSettle)
	if r.api, err = clientAPI(r.w.arrivals); err != nil {
		return err
	}
	if r.wl.kind == "w1light" {
		if err := raiseFileLimit(3*r.wl.n + 256); err != nil {
			return err
		}
		if r.light, err = newLightReaders(r.cfg.lightReaders, r.cfg.lightPoll); err != nil {
			return err
		}
	}
	if r.srv, err = r.cfg.server(); err != nil {
		return err
	}
	defer func() {
		r.closeAll()
		if r.light != nil {
			r.light.close()
		}
		if r.cfg.url == "" {
			if err := r.srv.stop(); err != nil {
				r.cfg.logf("%s: stopping meetd: %v", r.wl, err)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second+time.Duration(r.wl.n)*200*time.Millisecond)
	defer cancel()
	switch r.wl.kind {
	case "w1", "w3", "w4", "w1light":
		return r.broadcast(ctx)
	case "w2":
		return r.meeting(ctx)
	}
	return fmt.Errorf("unknown workload %q", r.wl.kind)
}

// broadcast runs W1, W3 and W4: one publisher, n subscribers; W3 replaces
// subscribers continuously while it measures; W4's publisher sends
// simulcast, and its subscribers show the video at three sizes.
func (r *run) broadcast(ctx context.Context) error {
	const room = "load"
	opts := testclient.Options{API: r.api, Media: syntheticMedia}
	if r.wl.kind == "w4" {
		opts = testclient.Options{API: r.api, Simulcast: true, SimulcastMedia: simulcastMedia}
	}
	pub, err := testclient.Dial(ctx, r.srv.url, opts)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.subs = append(r.subs, &subscriber{c: pub, r: newReceiver(&r.w)})
	r.mu.Unlock()
	if err := joinOrRefused(ctx, pub, signal.KindBroadcast, room, signal.RoleStage); err != nil {
		return err
	}
	if err := pub.Publish(ctx); err != nil {
		return err
	}
	time.Sleep(time.Second)
	base, err := procRSS(r.srv.pid)
	if err != nil {
		return err
	}
	r.cfg.logf("%s: publisher live; %d subscribers joining", r.wl, r.wl.n)
	subs, err := r.addSubscribers(ctx, r.wl.n, room)
	if err != nil {
		return err
	}

	if err := r.waitVideo(ctx, subs, 1); err != nil {
		return err
	}
	r.setups(subs)
	if r.wl.kind == "w4" {
		if err := r.showAtSizes(ctx, pub, subs); err != nil {
			return err
		}
	}
	var during func(context.Context)
	if r.wl.kind == "w3" {
		during = func(ctx context.Context) { r.churn(ctx, room) }
	}
	if err := r.measure(subs, during); err != nil {
		return err
	}
	if r.light != nil {
		if err := r.lightChecks(subs); err != nil {
			return errors.Join(err, r.rss(base, r.wl.n))
		}
	}
	if r.wl.kind == "w4" {
		r.res.Layers = map[string]int{}
		for i, s := range subs {
			v := w4Views[r.wl.view(i)]
			r.res.Layers[fmt.Sprintf("%dx%d:%s", v.width, v.height, markerRID(s.r.layer()))]++
		}
	}
	if r.wl.kind == "w3" {
		// Setup of the subscribers that joined during the window.
		time.Sleep(2 * time.Second)
		r.mu.Lock()
		joined := append(slices.Clone(r.subs[1+r.wl.n:]), r.gone[min(r.wl.n, len(r.gone)):]...)
		r.mu.Unlock()
		r.setups(joined)
		for _, s := range joined {
			if s != nil && s.r.setup() > 0 {
				r.res.Joins++
			}
		}
	}
	return r.rss(base, r.wl.n)
}

// meeting runs W2: n participants on one meeting's stage, each receiving
// all others.
func (r *run) meeting(ctx context.Context) error {
	const room = "w2"
	base, err := procRSS(r.srv.pid)
	if err != nil {
		return err
	}
	var parts []*subscriber
	for range r.wl.n {
		rc := newReceiver(&r.w)
		c, err := testclient.Dial(ctx, r.srv.url, testclient.Options{API: r.api, Media: syntheticMedia, OnTrack: rc.read})
		if err != nil {
			return err
		}
		s := &subscriber{c: c, r: rc}
		r.mu.Lock()
		r.subs = append(r.subs, s)
		r.mu.Unlock()
		parts = append(parts, s)
		if err := joinOrRefused(ctx, c, signal.KindMeeting, room, signal.RoleStage); err != nil {
			return fmt.Errorf("participant %d of %d: %w", len(parts), r.wl.n, err)
		}
		if err := c.Publish(ctx); err != nil {
			return fmt.Errorf("participant %d of %d: %w", len(parts), r.wl.n, err)
		}
	}
	if err := r.waitVideo(ctx, parts, r.wl.n-1); err != nil {
		return err
	}
	if r.cfg.record {
		if err := parts[0].c.SendRecord(true); err != nil {
			return err
		}
		if _, err := parts[0].c.WaitRecording(ctx, true); err != nil {
			return fmt.Errorf("recording did not start: %w (%v)", err, parts[0].c.Errors())
		}
	}
	r.setups(parts)
	if err := r.measure(parts, nil); err != nil {
		return err
	}
	return r.rss(base, r.wl.n)
}

// showAtSizes has W4's subscribers, which get the full layer until they
// say, tell meetd the sizes they show the video at, as the web app
// does once a video has its size, and waits until each gets its layer.
func (r *run) showAtSizes(ctx context.Context, pub *testclient.Client, subs []*subscriber) error {
	stream := pub.ID() + "_" + testclient.CameraStream
	for i, s := range subs {
		v := w4Views[r.wl.view(i)]
		if err := s.c.SendView(stream, v.width, v.height, signal.QualityAuto); err != nil {
			return err
		}
	}
	for {
		waiting := 0
		for i, s := range subs {
			if s.r.layer() != testclient.SimulcastLayers[r.wl.view(i)].Marker {
				waiting++
			}
		}
		if waiting == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d subscribers did not get the layer of their view: %w", waiting, len(subs), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// markerRID names the simulcast layer of a payload marker.
func markerRID(m byte) string {
	for _, l := range testclient.SimulcastLayers {
		if l.Marker == m {
			return l.RID
		}
	}
	return "none"
}

// joinOrRefused joins a room and turns an error reply into an error.
func joinOrRefused(ctx context.Context, c *testclient.Client, kind, room, role string) error {
	if err := c.JoinKind(ctx, kind, room, role); err != nil {
		return err
	}
	if errs := c.Errors(); len(errs) > 0 {
		return fmt.Errorf("join %s %s as %s: %s: %s", kind, room, role, errs[0].Code, errs[0].Message)
	}
	return nil
}

// addSubscribers connects n audience members of room, cfg.concurrency at a time.
func (r *run) addSubscribers(ctx context.Context, n int, room string) ([]*subscriber, error) {
	subs := make([]*subscriber, n)
	errs := make([]error, n)
	sem := make(chan struct{}, r.cfg.concurrency)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if r.wl.kind == "w1light" {
				subs[i], errs[i] = r.addLightSubscriber(ctx, room, i, r.light)
				return
			}
			subs[i], errs[i] = r.addSubscriber(ctx, room)
		}()
	}
	wg.Wait()
	return subs, errors.Join(errs...)
}

func (r *run) addSubscriber(ctx context.Context, room string) (*subscriber, error) {
	rc := newReceiver(&r.w)
	c, err := testclient.Dial(ctx, r.srv.url, testclient.Options{API: r.api, OnTrack: rc.read})
	if err != nil {
		return nil, err
	}
	s := &subscriber{c: c, r: rc}
	r.mu.Lock()
	r.subs = append(r.subs, s)
	r.mu.Unlock()
	return s, joinOrRefused(ctx, c, signal.KindBroadcast, room, signal.RoleAudience)
}

// waitVideo waits until each of subs receives video on tracks tracks.
func (r *run) waitVideo(ctx context.Context, subs []*subscriber, tracks int) error {
	for {
		waiting := 0
		for _, s := range subs {
			if int(s.r.videoTracks.Load()) < tracks {
				waiting++
			}
		}
		if waiting == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d clients still wait for video: %w", waiting, len(subs), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// measure runs the measuring window: the server's CPU, what arrived,
// and during, if not nil. The floor is measured after it (runWorkload).
func (r *run) measure(subs []*subscriber, during func(context.Context)) error {
	for _, s := range subs {
		if r.res.SRTPProfile = s.profile; r.res.SRTPProfile == "" {
			r.res.SRTPProfile = s.c.SRTPProfile()
		}
		if r.res.SRTPProfile != "" {
			break
		}
	}
	if r.cfg.windowCPUs != "" {
		// Joining takes meetd more than forwarding: the subscribers join
		// with meetd on the cores it started with, and the window has it
		// on these.
		out, err := exec.Command("taskset", "-a", "-p", "-c", r.cfg.windowCPUs, strconv.Itoa(r.srv.pid)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("taskset -a -p -c %s %d: %v: %s", r.cfg.windowCPUs, r.srv.pid, err, out)
		}
	}
	time.Sleep(r.cfg.warmup)

	var profiled chan error
	if r.cfg.pprofDir != "" && r.srv.pprof != "" {
		profiled = make(chan error, 1)
		path := filepath.Join(r.cfg.pprofDir, fmt.Sprintf("%s-%d.pprof", r.wl.kind, r.wl.n))
		go func() { profiled <- fetchProfile(r.srv.pprof, int(r.cfg.duration/time.Second), path) }()
	}
	cpu0, err := procCPU(r.srv.pid)
	if err != nil {
		return err
	}
	self0, _ := procCPU(os.Getpid())
	core0, coreErr := readCoreTimes(r.cfg.serverCPU)
	keys0 := r.keyframeRequests()
	t0 := time.Now()
	r.w.measuring.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.duration)
	if during != nil {
		during(ctx)
	}
	<-ctx.Done()
	cancel()
	r.w.measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1, err := procCPU(r.srv.pid)
	if err != nil {
		return err
	}
	self1, _ := procCPU(os.Getpid())
	core1, err := readCoreTimes(r.cfg.serverCPU)
	r.res.OthersOnServerCore = -1
	if coreErr == nil && err == nil && r.cfg.serverCPU >= 0 {
		r.res.OthersOnServerCore = othersShare(core0, core1, cpu1-cpu0, elapsed)
	}
	r.res.LoadAvg = loadAvg()
	r.res.KeyframeReqs = r.keyframeRequests() - keys0
	now := nowNanos()
	r.mu.Lock()
	for _, s := range r.subs {
		if s != nil {
			r.w.freezes.Add(uint64(s.r.stalled(now)))
		}
	}
	r.mu.Unlock()
	if profiled != nil {
		if err := <-profiled; err != nil {
			r.cfg.logf("%s: profile: %v", r.wl, err)
		}
	}
	return r.res.fill(windowTotals{
		elapsed: elapsed,
		server:  cpu1 - cpu0,
		client:  self1 - self0,
	}, &r.w)
}

// windowTotals is what the tool measured around a window, besides what
// the subscribers received in it.
type windowTotals struct {
	elapsed time.Duration
	// server and client are the CPU time meetd and the tool used in it.
	server, client time.Duration
}

// fill sets res's figures from a window's totals t and what the
// subscribers received in it, w; all but the floor's (setFloor).
// A figure that cannot be had is left 0 with an error, never NaN or Inf,
// which encoding/json refuses: the tool's output would end there.
func (res *result) fill(t windowTotals, w *window) error {
	if t.elapsed <= 0 {
		return fmt.Errorf("the window took %v", t.elapsed)
	}
	pkts := float64(w.packets.Load())
	res.Seconds = round(t.elapsed.Seconds(), 2)
	res.ForwardedPPS = round(pkts/t.elapsed.Seconds(), 0)
	res.ServerCores = round(t.server.Seconds()/t.elapsed.Seconds(), 3)
	res.ClientCores = round(t.client.Seconds()/t.elapsed.Seconds(), 3)
	if pkts > 0 {
		res.CPUUsPerPkt = round(float64(t.server)/float64(time.Microsecond)/pkts, 3)
	}
	res.PacketBytes = round(meanSize(w.mix()), 1)
	res.P50Ms = finite(w.latency.quantile(0.5))
	res.P99Ms = finite(w.latency.quantile(0.99))
	res.P999Ms = finite(w.latency.quantile(0.999))
	res.ReadP50Ms = finite(w.readLatency.quantile(0.5))
	res.ReadP99Ms = finite(w.readLatency.quantile(0.99))
	res.ReadP999Ms = finite(w.readLatency.quantile(0.999))
	res.Unstamped = w.unstamped.Load()
	res.Loss = w.lost.Load()
	res.Late = w.late.Load()
	if total := pkts + float64(res.Late+res.Loss); total > 0 {
		res.LossRate = float64(res.Loss) / total
	}
	res.Freezes = w.freezes.Load()
	res.JoinFreezes = w.joinFreezes.Load()
	res.SourcePauses = w.sourcePauses.Load()
	if pkts == 0 {
		return errors.New("no packets arrived in the window")
	}
	return nil
}

// setFloor sets the floor, the median of its passes (CPU µs per packet),
// and the ratio of meetd's CPU per forwarded packet to it.
func (res *result) setFloor(passes []float64) error {
	res.FloorPassesUs = nil
	for _, p := range passes {
		res.FloorPassesUs = append(res.FloorPassesUs, finite(p))
	}
	floor := round(medianFloor(passes), 3)
	if floor <= 0 {
		return fmt.Errorf("the floor's passes came to %v µs per packet: no ratio to it", passes)
	}
	res.FloorUsPerPkt = floor
	if res.CPUUsPerPkt > 0 {
		res.RatioToFloor = round(res.CPUUsPerPkt/floor, 3)
	}
	return nil
}

// keyframeRequests counts the keyframe requests publishers received.
func (r *run) keyframeRequests() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, s := range r.subs {
		if s != nil {
			n += s.c.KeyframeRequests()
		}
	}
	return n
}

// joinSettle is how long after its video starts a subscriber counts as
// watching: its freezes and latency count from then on. A newcomer's first
// frames are its setup, reported apart; what W3 asks is whether those
// already watching notice the others come and go. Every subscriber of W1,
// W2 and W4 watches before the window starts.
const joinSettle = time.Second

// churn replaces the oldest subscriber with a new one cfg.churnRate times
// a second until ctx ends.
func (r *run) churn(ctx context.Context, room string) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / r.cfg.churnRate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r.mu.Lock()
		var old *subscriber
		for i, s := range r.subs[1:] { // subs[0] is the publisher
			if s != nil && !s.r.closed.Load() {
				old = s
				r.subs[1+i] = nil
				break
			}
		}
		if old != nil {
			r.gone = append(r.gone, old)
		}
		r.mu.Unlock()
		if old != nil {
			old.r.closed.Store(true)
			go old.c.Close()
		}
		go func() {
			if _, err := r.addSubscriber(ctx, room); err != nil && ctx.Err() == nil {
				r.cfg.logf("%s: churn join: %v", r.wl, err)
			}
		}()
	}
}

// setups records the setup times of subs.
func (r *run) setups(subs []*subscriber) {
	var d []time.Duration
	for _, s := range subs {
		if s == nil {
			continue
		}
		if t := s.r.setup(); t > 0 {
			d = append(d, t)
		}
	}
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	r.res.SetupP50Ms = round(float64(d[len(d)/2])/1e6, 1)
	r.res.SetupMaxMs = round(float64(d[len(d)-1])/1e6, 1)
}

// rss records meetd's memory, and per subscriber above base.
func (r *run) rss(base int64, n int) error {
	rss, err := procRSS(r.srv.pid)
	if err != nil {
		return err
	}
	r.res.RSSMiB = round(float64(rss)/(1<<20), 1)
	r.res.RSSPerSubMiB = round(float64(rss-base)/(1<<20)/float64(n), 3)
	return nil
}

// closeAll closes every client, a few at a time.
func (r *run) closeAll() {
	r.mu.Lock()
	all := append(slices.Clone(r.subs), r.gone...)
	r.subs, r.gone = nil, nil
	r.mu.Unlock()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, s := range all {
		if s == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s.r.closed.Store(true)
			s.c.Close()
		}()
	}
	wg.Wait()
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return round(v, 3)
}
