package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/testclient"
)

// TestPublisherMediaReadPaths: a publisher's media reaches viewers whether
// meetd reads it at the shared socket (the default) or through pion, and
// in both the interceptors of received streams see every packet, as a
// browser needs them to: meetd asks for what the publisher lost (NACK) and
// forwards what it resends on its RTX stream, and sends receiver reports
// and transport-wide feedback about what arrived.
func TestPublisherMediaReadPaths(t *testing.T) {
	for _, pion := range []bool{false, true} {
		name := "socket"
		if pion {
			name = "pion"
		}
		t.Run(name, func(t *testing.T) { testReadPath(t, pion) })
	}
}

func testReadPath(t *testing.T, pion bool) {
	if !pion && pionReads() {
		t.Skip("MEETD_PION_READ_PATH: every test reads through pion")
	}
	checkLeaks(t)
	m := runMeetd(t, Config{SFU: sfu.Config{Loopback: true, Interfaces: []string{"lo"}, PionReadPath: pion}})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// The publisher loses every 25th video packet on the way out, after
	// its NACK responder kept it: it resends those on its RTX stream when
	// meetd asks.
	lossy := &lossyWire{every: 25}
	rec := &rtcpRecorder{}
	api, err := testclient.NewAPI(testclient.Network{}, func(me *webrtc.MediaEngine, ir *interceptor.Registry) error {
		ir.Add(lossy)
		if err := webrtc.ConfigureNack(me, ir); err != nil {
			return err
		}
		if err := webrtc.ConfigureRTCPReports(ir); err != nil {
			return err
		}
		if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, ir); err != nil {
			return err
		}
		ir.Add(rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := goLive(t, ctx, url, "ingress", testclient.Options{API: api})
	defer pub.Close()
	seen := &seqSet{}
	viewer := dial(t, ctx, url, testclient.Options{OnTrack: func(tr *webrtc.TrackRemote) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				seen.add(p.SequenceNumber)
			}
		}
	}})
	defer viewer.Close()
	join(t, ctx, viewer, "ingress", "audience")

	waitUntil(t, ctx, "the viewer's first video", func() bool { _, ok := seen.highest(); return ok })
	counters := func() sfu.CounterSnapshot { return m.api.Counters().Snapshot() }
	if pion {
		if c := counters(); c.ReadPaths[sfu.ReadShared] != 0 {
			t.Fatalf("publish connections read at the socket: %d, want none", c.ReadPaths[sfu.ReadShared])
		}
	} else {
		waitUntil(t, ctx, "the publisher's media read at the socket", func() bool {
			c := counters()
			return c.ReadPaths[sfu.ReadShared] == 1 && c.ReadAtSocket > 0
		})
	}

	// From here on, every video packet reaches the viewer, the lost ones
	// late, and the publisher hears of what meetd received.
	from := lossy.next()
	feedback := rec.count(isTWCC)
	waitUntil(t, ctx, "a hundred more video packets", func() bool {
		h, _ := seen.highest()
		return int16(h-from) > 100
	})
	if lost := lossy.lostSince(from); len(lost) < 3 {
		t.Fatalf("the publisher lost %v since %d, want some", lost, from)
	}
	waitUntil(t, ctx, "a receiver report of the video up to then", func() bool {
		return rec.any(func(p rtcp.Packet) bool {
			rr, ok := p.(*rtcp.ReceiverReport)
			if !ok {
				return false
			}
			for _, r := range rr.Reports {
				if r.SSRC == lossy.ssrc() && int16(uint16(r.LastSequenceNumber)-(from+100)) >= 0 {
					return true
				}
			}
			return false
		})
	})
	waitUntil(t, ctx, "transport-wide feedback", func() bool { return rec.count(isTWCC) > feedback+5 })
	waitUntil(t, ctx, "the lost packets, resent", func() bool { return seen.all(from, from+100) })

	c := counters()
	if pion && c.ReadAtSocket != 0 {
		t.Errorf("%d packets read at the socket, want none", c.ReadAtSocket)
	}
	if !pion && c.ReadAtSocket < 100 {
		t.Errorf("%d packets read at the socket, want all since the first", c.ReadAtSocket)
	}
}

func isTWCC(p rtcp.Packet) bool { _, ok := p.(*rtcp.TransportLayerCC); return ok }

// seqSet is the sequence numbers a viewer received of one stream.
type seqSet struct {
	mu   sync.Mutex
	got  map[uint16]bool
	last uint16
	ok   bool
}

func (s *seqSet) add(seq uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got == nil {
		s.got = map[uint16]bool{}
	}
	s.got[seq] = true
	if !s.ok || int16(seq-s.last) > 0 {
		s.last, s.ok = seq, true
	}
}

func (s *seqSet) highest() (uint16, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.ok
}

// all reports whether every sequence number from first to last arrived.
func (s *seqSet) all(first, last uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := first; q != last+1; q++ {
		if !s.got[q] {
			return false
		}
	}
	return true
}

// lossyWire is an interceptor, below a client's NACK responder, that
// drops every nth packet of the video stream it sends (not its
// retransmissions, which go out on the RTX stream).
type lossyWire struct {
	interceptor.NoOp
	every uint16
	mu    sync.Mutex
	video uint32
	last  uint16
	lost  []uint16
}

func (l *lossyWire) NewInterceptor(string) (interceptor.Interceptor, error) { return l, nil }

func (l *lossyWire) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if !strings.EqualFold(info.MimeType, webrtc.MimeTypeVP8) {
		return w
	}
	l.mu.Lock()
	l.video = info.SSRC
	l.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC == info.SSRC {
			l.mu.Lock()
			l.last = h.SequenceNumber
			drop := h.SequenceNumber%l.every == 0
			if drop {
				l.lost = append(l.lost, h.SequenceNumber)
			}
			l.mu.Unlock()
			if drop {
				return len(payload), nil
			}
		}
		return w.Write(h, payload, a)
	})
}

func (l *lossyWire) ssrc() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.video
}

// next is the sequence number of the next video packet.
func (l *lossyWire) next() uint16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last + 1
}

func (l *lossyWire) lostSince(seq uint16) []uint16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lost []uint16
	for _, q := range l.lost {
		if int16(q-seq) >= 0 {
			lost = append(lost, q)
		}
	}
	return lost
}

// rtcpRecorder is an interceptor that keeps the RTCP a client reads.
type rtcpRecorder struct {
	interceptor.NoOp
	mu   sync.Mutex
	pkts []rtcp.Packet
}

func (r *rtcpRecorder) NewInterceptor(string) (interceptor.Interceptor, error) { return r, nil }

func (r *rtcpRecorder) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := reader.Read(b, a)
		if err == nil {
			if pkts, err := rtcp.Unmarshal(b[:n]); err == nil {
				r.mu.Lock()
				r.pkts = append(r.pkts, pkts...)
				r.mu.Unlock()
			}
		}
		return n, a, err
	})
}

func (r *rtcpRecorder) count(f func(rtcp.Packet) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.pkts {
		if f(p) {
			n++
		}
	}
	return n
}

func (r *rtcpRecorder) any(f func(rtcp.Packet) bool) bool { return r.count(f) > 0 }
