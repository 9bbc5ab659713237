package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestNTPTime(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want uint64
	}{
		{time.Unix(0, 0), 2208988800 << 32},
		{time.Unix(1, 500_000_000), (2208988801 << 32) | 1<<31},
		{time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC), uint64(time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC).Unix()+2208988800) << 32},
	} {
		if got := ntpTime(c.t); got != c.want {
			t.Errorf("ntpTime(%v) = %#x, want %#x", c.t, got, c.want)
		}
	}
}

func TestSenderReport(t *testing.T) {
	tr := newTestTrack()
	tr.codec.ClockRate = 90000
	rec := &recorder{}
	d := subscribe(tr, 1111, 100, rec)
	if _, ok := d.senderReport(time.Now()); ok {
		t.Fatal("a report before anything was sent")
	}
	var scratch rtp.Packet
	for seq := uint16(10); seq < 15; seq++ {
		forwardFirst(tr, vp8(t, seq, seq == 10), &scratch)
	}
	sent := rec.packets()
	_, at := (*tr.layers.Load())[0].clock()
	now := time.Unix(0, at).Add(100 * time.Millisecond)
	sr, ok := d.senderReport(now)
	if !ok {
		t.Fatal("no report after 5 packets")
	}
	last := sent[len(sent)-1]
	want := rtcp.SenderReport{
		SSRC: 1111, NTPTime: ntpTime(now),
		RTPTime:     last.Timestamp + 9000, // 100 ms at 90 kHz
		PacketCount: 5, OctetCount: uint32(5 * len(last.Payload)),
	}
	if sr.SSRC != want.SSRC || sr.NTPTime != want.NTPTime || sr.RTPTime != want.RTPTime ||
		sr.PacketCount != want.PacketCount || sr.OctetCount != want.OctetCount {
		t.Errorf("report %+v, want %+v", *sr, want)
	}

	// Not shown: no video, no report.
	d.SetView(View{})
	forwardFirst(tr, vp8(t, 15, false), &scratch)
	if _, ok := d.senderReport(now); ok {
		t.Error("a report while no video is sent")
	}
}

func TestReporterSends(t *testing.T) {
	tr := newTestTrack()
	tr.codec.ClockRate = 90000
	d := subscribe(tr, 1111, 100, discard{})
	var scratch rtp.Packet
	forwardFirst(tr, vp8(t, 1, true), &scratch)
	got := make(chan []rtcp.Packet, 1)
	clock := &reportClock{}
	r := clock.newReporter(nil, func(p []rtcp.Packet) error {
		select {
		case got <- append([]rtcp.Packet(nil), p...):
		default:
		}
		return nil
	})
	defer r.Close()
	r.Add(d)
	select {
	case pkts := <-got:
		if sr, ok := pkts[0].(*rtcp.SenderReport); len(pkts) != 1 || !ok || sr.SSRC != 1111 || sr.PacketCount != 1 {
			t.Errorf("sent %v, want one sender report of SSRC 1111", pkts)
		}
	case <-time.After(5 * reportInterval):
		t.Fatal("no report sent")
	}
}

// TestReportsGoThroughTheEgress: a connection's sender reports are
// encrypted by its Egress, with the context its RTP is, and leave on the
// shared socket; once the last Reporter closes, the clock stops.
func TestReportsGoThroughTheEgress(t *testing.T) {
	c := newTestSocket(t)
	r := receivers(t, 1)[0]
	keys, dec := srtpKeyPair(t)
	tr := newTestTrack()
	tr.codec.ClockRate = 90000
	d := subscribe(tr, 1111, 96, discard{})
	d.SetEgress(testEgress(t, keys, c, r))
	var scratch rtp.Packet
	forwardFirst(tr, vp8(t, 1, true), &scratch)

	clock := &reportClock{batch: sockets(c)}
	rep := clock.newReporter(d.egress, func([]rtcp.Packet) error {
		t.Error("a report written through pion")
		return nil
	})
	rep.Add(d)
	buf := make([]byte, 1500)
	_ = r.SetReadDeadline(time.Now().Add(5 * reportInterval))
	for {
		n, _, err := r.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no sender report: %v", err)
		}
		if n < 2 || buf[1] < 192 || buf[1] > 223 {
			continue // the RTP packet (RFC 5761)
		}
		plain, err := dec.DecryptRTCP(nil, buf[:n], nil)
		if err != nil {
			t.Fatalf("the subscriber cannot decrypt the report: %v", err)
		}
		pkts, err := rtcp.Unmarshal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if sr, ok := pkts[0].(*rtcp.SenderReport); len(pkts) != 1 || !ok || sr.SSRC != 1111 || sr.PacketCount != 1 {
			t.Fatalf("sent %v, want one sender report of SSRC 1111", pkts)
		}
		break
	}
	done := clock.done
	rep.Close()
	<-done // the last connection out stopped the clock, its batch sent and counted
	// The RTP packet was written outside a fan-out's batch; the report
	// was sent in the clock's.
	if st := clock.batch.Stats(); st.Batches != 1 || st.Sent != 1 {
		t.Errorf("%d batches with %d datagrams sent, want the report's", st.Batches, st.Sent)
	}
}
