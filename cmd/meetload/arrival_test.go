package main

import (
	"net"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// TestArrivalIsTheKernelsReceiveTime sends RTP and RTCP to a socket of the
// clients' network: the RTP packet's arrival is noted by SSRC and sequence
// number, at the time the kernel received it (before the read, not when
// the reader came), and RTCP is not taken for RTP.
func TestArrivalIsTheKernelsReceiveTime(t *testing.T) {
	arr := new(arrivals)
	n, err := newArrivalNet(arr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := c.(*stampConn)
	out, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	// An RTCP receiver report whose bytes 8–11 and 2–3 read as another
	// SSRC and sequence number.
	rr, _ := (&rtcp.ReceiverReport{SSRC: 0x01020304, Reports: []rtcp.ReceptionReport{{SSRC: 7}}}).Marshal()

	// The kernel starts stamping received packets a moment after the
	// first socket asks for it (in deferred work); until then a packet is
	// stamped when read. Try until it stamps on arrival.
	buf := make([]byte, 1500)
	var at, before, readAt int64
	for try := 0; ; try++ {
		seq := uint16(65535 - try)
		pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: 0xdeadbeef},
			Payload: make([]byte, 1100)}).Marshal()
		before = nowNanos()
		for _, p := range [][]byte{pkt, rr} {
			if _, err := out.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
		readAt = nowNanos()
		for range 2 {
			if _, _, err := conn.ReadFromAddrPort(buf); err != nil {
				t.Fatal(err)
			}
		}
		var ok bool
		if at, ok = arr.get(0xdeadbeef, seq); !ok {
			t.Fatal("the RTP packet's arrival was not noted")
		}
		if at < readAt || try == 50 {
			break
		}
	}
	if at < before || at >= readAt {
		t.Errorf("arrival %d ns after the send began, want before the read %d ns after it", at-before, readAt-before)
	}
	if _, ok := arr.get(0xdeadbeef, 0); ok {
		t.Error("a packet that never came has an arrival")
	}
	if _, ok := arr.get(0x00000007, uint16(len(rr)/4-1)); ok {
		t.Error("the RTCP packet was noted as RTP")
	}
}

func TestArrivalsTakeTheLatestOfASlot(t *testing.T) {
	arr := new(arrivals)
	arr.put(1, 2, 100)
	arr.put(1, 2, 200)
	if at, ok := arr.get(1, 2); !ok || at != 200 {
		t.Errorf("get = %d, %v; want 200, true", at, ok)
	}
	if _, ok := arr.get(2, 2); ok {
		t.Error("another SSRC's packet found")
	}
}
