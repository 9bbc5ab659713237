package udpbatch

import (
	"net"
	"net/netip"
	"sync"
	"testing"
)

// rtcpListener keeps the RTCP it is handed.
type rtcpListener struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (l *rtcpListener) ReceiveRTCP(pkt []byte, _ *Scratch) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pkts = append(l.pkts, append([]byte(nil), pkt...))
	return true
}

func (l *rtcpListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pkts)
}

// rtcpDatagram is a receiver report's first bytes, padded.
func rtcpDatagram(n byte) []byte { return []byte{0x80, 201, 0, 1, 0, 0, 0, n} }

// TestListenerTakesItsRTCP: RTCP from a listened address goes to its
// listener; STUN from it, RTCP from elsewhere, and its RTCP once it stops
// listening are read as before.
func TestListenerTakesItsRTCP(t *testing.T) {
	c := newTestConn(t)
	rs := receivers(t, 2)
	sub, stranger := rs[0], rs[1]
	l := &rtcpListener{}
	c.Listen(addrPort(sub), l)
	send := func(from interface {
		WriteToUDPAddrPort([]byte, netip.AddrPort) (int, error)
	}, b []byte) {
		t.Helper()
		if _, err := from.WriteToUDPAddrPort(b, addrPort(c.UDPConn)); err != nil {
			t.Fatal(err)
		}
	}
	stun := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42}
	send(sub, rtcpDatagram(1))
	send(sub, stun)
	send(stranger, rtcpDatagram(2))
	buf := make([]byte, 2048)
	read := func(step string, want []byte) {
		t.Helper()
		n, _, err := c.ReadFromAddrPort(buf)
		if err != nil || string(buf[:n]) != string(want) {
			t.Fatalf("%s: read %x (%v), want %x", step, buf[:n], err, want)
		}
	}
	read("STUN from the listened address", stun)
	read("RTCP from another address", rtcpDatagram(2))
	if l.count() != 1 {
		t.Fatalf("the listener got %d packets, want its RTCP", l.count())
	}
	c.Unlisten(addrPort(sub), &rtcpListener{}) // another's: no effect
	c.Unlisten(addrPort(sub), l)
	send(sub, rtcpDatagram(3))
	read("RTCP once the listener left", rtcpDatagram(3))
}

// TestPionMediaToAListenerIsCounted: RTP or RTCP that pion's mux writes
// to a listened address is counted, as it breaks what the egress depends
// on; pion's STUN and DTLS to it, its media to others, and the egress's
// own sends are not.
func TestPionMediaToAListenerIsCounted(t *testing.T) {
	c := newTestConn(t)
	rs := drained(receivers(t, 2))
	sub, pub := addrPort(rs[0]), addrPort(rs[1])
	rtp := datagram(0, 0, 100)
	rtp[0] = 0x80
	stun := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42}
	dtls := []byte{22, 0xfe, 0xfd, 0, 0}
	pion := func(b []byte, to netip.AddrPort) {
		t.Helper()
		if _, err := c.WriteToAddrPort(b, to); err != nil {
			t.Fatal(err)
		}
	}
	pion(rtp, sub) // nobody listens yet
	c.Listen(sub, &rtcpListener{})
	for _, b := range [][]byte{stun, dtls} {
		pion(b, sub)
	}
	pion(rtp, pub)
	if _, err := c.Send(rtp, sub); err != nil {
		t.Fatal(err)
	}
	if n := (&Sockets{Conns: []*Conn{c}}).Stats().PionMedia; n != 0 {
		t.Fatalf("%d datagrams counted before pion wrote media to the listener", n)
	}
	pion(rtp, sub)
	// WriteTo, and an IPv4 address in its IPv6 form, as pion may give it.
	mapped := &net.UDPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: int(sub.Port())}
	if _, err := c.WriteTo(rtcpDatagram(1), mapped); err != nil {
		t.Fatal(err)
	}
	st := (&Sockets{Conns: []*Conn{c}}).Stats()
	if st.PionMedia != 2 {
		t.Errorf("%d datagrams counted, want pion's RTP and RTCP to the listener", st.PionMedia)
	}
	if st.PionRTP != 4 || st.FromEgress != 1 {
		t.Errorf("pion wrote %d RTP and RTCP datagrams, the egress %d; want 4 and 1", st.PionRTP, st.FromEgress)
	}
}
