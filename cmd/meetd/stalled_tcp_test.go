package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// gatedListener is ICE-TCP's listener for these tests: while its gate is
// shut, writes to what it accepted wait, as they do once a viewer that
// stopped reading has filled the socket's buffers.
type gatedListener struct {
	net.Listener
	mu   sync.Mutex
	open chan struct{} // closed while writes go through
}

func newGatedListener(t *testing.T) *gatedListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedListener{Listener: ln, open: make(chan struct{})}
	close(g.open)
	t.Cleanup(g.resume)
	return g
}

func (g *gatedListener) port() int { return g.Addr().(*net.TCPAddr).Port }

func (g *gatedListener) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *gatedListener) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *gatedListener) gate() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

func (g *gatedListener) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: c, g: g, closed: make(chan struct{})}, nil
}

type gatedConn struct {
	net.Conn
	g      *gatedListener
	once   sync.Once
	closed chan struct{}
}

func (c *gatedConn) Write(b []byte) (int, error) {
	select {
	case <-c.g.gate():
	case <-c.closed:
		return 0, net.ErrClosed
	}
	return c.Conn.Write(b)
}

func (c *gatedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// Numbered video: stalledFPS frames a second of stalledFramePackets
// packets, each carrying its frame's number after the VP8 descriptor
// and header bytes; a keyframe every second and when asked.
const (
	stalledFPS          = 30
	stalledFramePackets = 10
)

type numberedVideo struct {
	frame   atomic.Uint32 // frames sent
	packets atomic.Int64  // video packets sent
}

func (nv *numberedVideo) media(ctx context.Context, audio, video *webrtc.TrackLocalStaticRTP, keyframeRequested func() bool) {
	tick := time.NewTicker(time.Second / stalledFPS)
	defer tick.Stop()
	var seq, aseq uint16
	var ts uint32
	payload := make([]byte, 1000)
	for frame := uint32(1); ; frame++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ts += 90000 / stalledFPS
		key := keyframeRequested() || frame%stalledFPS == 1
		for i := range stalledFramePackets {
			seq++
			payload[0] = 0x00
			if i == 0 {
				payload[0] = 0x10
			}
			payload[1] = 0x01
			if key {
				payload[1] = 0x00
			}
			binary.BigEndian.PutUint32(payload[2:], frame)
			_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts,
				Marker: i == stalledFramePackets-1}, Payload: payload})
			nv.packets.Add(1)
		}
		nv.frame.Store(frame)
		aseq++
		_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: uint32(aseq) * 1600,
			Marker: true}, Payload: make([]byte, 80)})
	}
}

// frameLog is the frame numbers of the video a viewer received, in order.
type frameLog struct {
	mu     sync.Mutex
	frames []uint32
}

func (l *frameLog) onTrack(tr *webrtc.TrackRemote) {
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if tr.Kind() != webrtc.RTPCodecTypeVideo || len(p.Payload) < 6 {
			continue
		}
		l.mu.Lock()
		l.frames = append(l.frames, binary.BigEndian.Uint32(p.Payload[2:]))
		l.mu.Unlock()
	}
}

func (l *frameLog) since(i int) []uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint32(nil), l.frames[min(i, len(l.frames)):]...)
}

func (l *frameLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.frames)
}

// stalledSetup runs meetd with ICE-TCP on g, a publisher of numbered
// video, four UDP viewers and one ICE-TCP viewer, all receiving.
func stalledSetup(t *testing.T, ctx context.Context, g *gatedListener, q sfu.QueueLimits) (*numberedVideo, []*testclient.Client, *testclient.Client, *frameLog) {
	t.Helper()
	m := runMeetd(t, Config{SFU: sfu.Config{Loopback: true, Interfaces: []string{"lo"}, UDPPort: freePort(t),
		TCPPort: g.port(), TCPListener: g, Queue: q}})
	url := "ws://" + m.Addr() + "/ws"
	nv := &numberedVideo{}
	pub := goLive(t, ctx, url, "default", testclient.Options{Media: nv.media})
	t.Cleanup(pub.Close)
	var udp []*testclient.Client
	for i := range 4 {
		v := dial(t, ctx, url, testclient.Options{})
		t.Cleanup(v.Close)
		join(t, ctx, v, "default", signal.RoleAudience)
		waitMedia(t, ctx, fmt.Sprintf("UDP viewer %d", i), v)
		udp = append(udp, v)
	}
	log := &frameLog{}
	tcp := dial(t, ctx, url, testclient.Options{Network: testclient.Network{TCP: true, NoUDP: true}, OnTrack: log.onTrack})
	t.Cleanup(tcp.Close)
	join(t, ctx, tcp, "default", signal.RoleAudience)
	waitErr(t, ctx, 20*time.Second, "TCP viewer's video", func() error {
		if log.len() < 30 {
			return fmt.Errorf("%d video packets", log.len())
		}
		return nil
	})
	if path, err := tcp.Path(signal.TargetSubscribe); err != nil || path.Protocol != "tcp" {
		t.Fatalf("TCP viewer's path %v, %v: want ICE-TCP", path, err)
	}
	return nv, udp, tcp, log
}

// videoPackets is how many video packets each viewer received.
func videoPackets(vs []*testclient.Client) []int {
	n := make([]int, len(vs))
	for i, v := range vs {
		n[i] = v.Stats(webrtc.RTPCodecTypeVideo).Packets
	}
	return n
}

// waitUDPThroughStall waits until each UDP viewer received at least
// want video packets more than it had at from, and checks that they got
// all the publisher sent meanwhile, without gaps.
func waitUDPThroughStall(t *testing.T, nv *numberedVideo, udp []*testclient.Client, from []int, sentFrom int64, want int) {
	t.Helper()
	waitErr(t, context.Background(), 30*time.Second, "UDP viewers' video while the TCP viewer is stalled", func() error {
		now := videoPackets(udp)
		for i := range udp {
			if now[i]-from[i] < want {
				return fmt.Errorf("UDP viewer %d got %d video packets while the TCP viewer was stalled, want %d", i, now[i]-from[i], want)
			}
		}
		return nil
	})
	sent := nv.packets.Load() - sentFrom
	for i, v := range udp {
		st := v.Stats(webrtc.RTPCodecTypeVideo)
		// Up to a frame may still be on its way.
		if got := int64(st.Packets - from[i]); got < sent-2*stalledFramePackets {
			t.Errorf("UDP viewer %d got %d video packets of the %d sent while the TCP viewer was stalled", i, got, sent)
		}
		if st.Gaps != 0 {
			t.Errorf("UDP viewer %d: %d gaps in its video", i, st.Gaps)
		}
	}
}

// TestStalledTCPViewer: an ICE-TCP viewer whose connection takes nothing
// slows none of the UDP viewers of the same broadcast, and once it reads
// again it gets current video, not what backed up meanwhile.
func TestStalledTCPViewer(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	g := newGatedListener(t)
	nv, udp, _, log := stalledSetup(t, ctx, g, sfu.QueueLimits{Stall: time.Minute})

	from, sentFrom := videoPackets(udp), nv.packets.Load()
	g.pause()
	// Two seconds of video: four times the queue's age limit, and as
	// much as the old 4 MB buffer would have held of it.
	waitUDPThroughStall(t, nv, udp, from, sentFrom, 2*stalledFPS*stalledFramePackets)

	mark := log.len()
	live := nv.frame.Load()
	g.resume()
	waitErr(t, ctx, 30*time.Second, "TCP viewer's current video", func() error {
		for _, f := range log.since(mark) {
			if f >= live {
				return nil
			}
		}
		return fmt.Errorf("no frame from %d on among %d packets", live, len(log.since(mark)))
	})
	// What came before the first current frame is what backed up: a
	// keyframe interval at most (one second), and little of it.
	var stale int
	for _, f := range log.since(mark) {
		if f >= live {
			break
		}
		if live-f > stalledFPS {
			stale++
		}
	}
	if stale > 2*stalledFramePackets {
		t.Errorf("after the stall the TCP viewer got %d video packets more than a second old before current video", stale)
	}
}

// TestStalledTCPViewerIsCut: a viewer whose connection stays stalled is
// told why and its subscribe connection closed; the others keep their
// video.
func TestStalledTCPViewerIsCut(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	g := newGatedListener(t)
	nv, udp, tcp, _ := stalledSetup(t, ctx, g, sfu.QueueLimits{Stall: time.Second})

	from, sentFrom := videoPackets(udp), nv.packets.Load()
	g.pause()
	if err := tcp.WaitError(ctx, signal.CodeTooSlow); err != nil {
		t.Fatalf("stalled viewer: %v (errors %v)", err, tcp.Errors())
	}
	for _, e := range tcp.Errors() {
		if e.Code == signal.CodeTooSlow && e.Message == "" {
			t.Error("too_slow error without a message")
		}
	}
	waitUDPThroughStall(t, nv, udp, from, sentFrom, stalledFPS*stalledFramePackets)
}

// waitErr waits up to limit (within ctx) for try to return nil, failing
// with what try last said.
func waitErr(t *testing.T, ctx context.Context, limit time.Duration, what string, try func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for last = try(); last != nil; last = try() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s: %v", what, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
