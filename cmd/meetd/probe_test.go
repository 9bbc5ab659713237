package main

// A viewer whose estimate fell is probed with padding before its video
// steps up again: clean reports during the probe take it straight back to
// the full layer; lossy ones stop the padding and keep the layer.

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/bwe"
	"github.com/meetd/meetd/internal/metrics"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// lossReporter makes a client's receiver reports (pion's, made from what
// it really got) say that the fraction lost is lost/256.
type lossReporter struct {
	interceptor.NoOp
	lost atomic.Uint32
	// reports are the sender reports received.
	mu      sync.Mutex
	reports []senderReportAt
}

func (l *lossReporter) NewInterceptor(string) (interceptor.Interceptor, error) { return l, nil }

func (l *lossReporter) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		lost := uint8(l.lost.Load())
		for _, p := range pkts {
			if rr, ok := p.(*rtcp.ReceiverReport); ok {
				for i := range rr.Reports {
					rr.Reports[i].FractionLost = lost
				}
			}
		}
		return w.Write(pkts, a)
	})
}

func (l *lossReporter) set(fraction float64) { l.lost.Store(uint32(fraction * 255)) }

// BindRTCPReader counts the sender reports the client receives.
func (l *lossReporter) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err == nil {
			if pkts, perr := rtcp.Unmarshal(b[:n]); perr == nil {
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						l.mu.Lock()
						l.reports = append(l.reports, senderReportAt{sr.SSRC, time.Now()})
						l.mu.Unlock()
					}
				}
			}
		}
		return n, a, err
	})
}

// senderReportAt is a sender report of ssrc that arrived at at.
type senderReportAt struct {
	ssrc uint32
	at   time.Time
}

// senderReports counts the sender reports of ssrc that arrived from
// from to to.
func (l *lossReporter) senderReports(ssrc uint32, from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reports {
		if r.ssrc == ssrc && !r.at.Before(from) && !r.at.After(to) {
			n++
		}
	}
	return n
}

// isPadding tells a padding-only packet.
func isPadding(p rtp.Packet) bool { return p.Padding && len(p.Payload) == 0 }

// probeSetup is a simulcast publisher and a viewer whose reported loss the
// test sets, on the full layer, then held on a smaller one by loss.
func probeSetup(t *testing.T, ctx context.Context) (*Main, *lossReporter, *received) {
	t.Helper()
	if !fastEgress {
		t.Skip("padding is sent on the shared sockets of meetd's own egress only")
	}
	m := runMeetd(t, Config{})
	url := "ws://" + m.Addr() + "/ws"
	pub := publishSimulcast(t, ctx, url)
	t.Cleanup(pub.Close)
	lr := &lossReporter{}
	api, err := testclient.NewAPI(testclient.Network{}, func(me *webrtc.MediaEngine, ir *interceptor.Registry) error {
		ir.Add(lr) // first: it rewrites what pion's report interceptor writes
		return webrtc.RegisterDefaultInterceptors(me, ir)
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &received{padding: true}
	viewer := dial(t, ctx, url, testclient.Options{API: api, OnTrack: rec.onTrack})
	t.Cleanup(viewer.Close)
	join(t, ctx, viewer, "cams", signal.RoleAudience)
	waitLayer(t, ctx, rec, 'f', 30)

	lr.set(0.5)
	waitUntil(t, ctx, "the viewer held below the full layer", func() bool {
		got, _ := rec.since(0)
		if len(got) < 30 {
			return false
		}
		for _, p := range got[len(got)-30:] {
			if m := marker(p); m == 'f' || m == 0 {
				return false
			}
		}
		return true
	})
	return m, lr, rec
}

// untilPadding waits until the viewer gets padding from packet n on, and
// returns the index of the first padding packet.
func untilPadding(t *testing.T, ctx context.Context, rec *received, n int) int {
	t.Helper()
	at := -1
	waitUntil(t, ctx, "padding-only packets", func() bool {
		got, _ := rec.since(n)
		for i, p := range got {
			if isPadding(p) {
				at = n + i
				return true
			}
		}
		return false
	})
	return at
}

func TestProbeThenStepUp(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, lr, rec := probeSetup(t, ctx)
	clean, _ := rec.count()
	lr.set(0)
	first := untilPadding(t, ctx, rec, clean)
	padFrom := time.Now()
	full := waitLayer(t, ctx, rec, 'f', 30)
	padTo := time.Now()

	// One stream: the padding's sequence numbers follow the media's and
	// the media's follow the padding's, with none missing or repeated.
	pkts, _ := rec.since(first - 1)
	pkts = pkts[:full-first+1]
	seen := map[uint16]bool{}
	var pads int
	for i, p := range pkts {
		if seen[p.SequenceNumber] {
			t.Errorf("sequence number %d twice", p.SequenceNumber)
		}
		seen[p.SequenceNumber] = true
		if isPadding(p) {
			pads++
			if p.SSRC != pkts[0].SSRC || p.PayloadType != pkts[0].PayloadType {
				t.Errorf("padding on SSRC %d, payload type %d; media on %d, %d", p.SSRC, p.PayloadType, pkts[0].SSRC, pkts[0].PayloadType)
			}
		}
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Errorf("sequence number %d after %d (padding: %v after %v)", p.SequenceNumber, pkts[i-1].SequenceNumber,
				isPadding(p), isPadding(pkts[i-1]))
		}
	}
	if isPadding(pkts[0]) {
		t.Error("the probe started inside padding")
	}
	// While it pads, the viewer gets a sender report of the video about
	// every 100 ms, not once a second: the round trips of its receiver
	// reports show a filling queue in time.
	if n := lr.senderReports(pkts[0].SSRC, padFrom, padTo); n < 4 {
		t.Errorf("%d sender reports of the video in the %v of the probe, want one about every 100 ms", n, padTo.Sub(padFrom).Round(time.Millisecond))
	}
	c := m.api.Counters().Probes()
	t.Logf("%d padding packets; probes %+v", pads, c)
	if c.Started < 1 || c.Passed < 1 {
		t.Errorf("probes %+v: want one started and passed", c)
	}
}

func TestProbeFailsAndKeepsTheLayer(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, lr, rec := probeSetup(t, ctx)
	clean, _ := rec.count()
	lr.set(0)
	untilPadding(t, ctx, rec, clean)
	lr.set(0.3) // the link does not take the probe
	waitUntil(t, ctx, "the probe to fail", func() bool { return m.api.Counters().Probes().Failed >= 1 })
	// Padding stops at once: none once the packets on their way are in.
	time.Sleep(300 * time.Millisecond)
	after, _ := rec.count()
	waitUntil(t, ctx, "90 more video packets", func() bool { n, _ := rec.count(); return n >= after+90 })
	pkts, _ := rec.since(after)
	for _, p := range pkts {
		if isPadding(p) {
			t.Fatalf("padding after the probe failed (sequence number %d)", p.SequenceNumber)
		}
		if marker(p) == 'f' {
			t.Fatalf("the full layer after the probe failed")
		}
	}
	if c := m.api.Counters().Probes(); c.Passed != 0 {
		t.Errorf("probes %+v: want none passed", c)
	}
	st := stats(t, m)
	t.Logf("probe stats: %+v", st)
	if st == nil || st.Running || st.Last != bwe.ProbeFailed {
		t.Errorf("the viewer's probe stats %+v: want the last failed", st)
	}
}

// stats is the probe stats /admin/stats shows of the one participant that
// was probed, nil when none shows any.
func stats(t *testing.T, m *Main) *bwe.ProbeStats {
	t.Helper()
	code, body := get(t, "http://"+m.Addr()+"/admin/stats?format=json", nil)
	if code != http.StatusOK {
		t.Fatalf("/admin/stats: %d", code)
	}
	var st struct{ Rooms []metrics.RoomStats }
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Rooms {
		for _, p := range r.Participants {
			if p.Probe != nil {
				return p.Probe
			}
		}
	}
	return nil
}
