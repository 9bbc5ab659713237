package turn

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

func TestPeersAreOnlyMediaSockets(t *testing.T) {
	media := Media{
		UDP: []netip.AddrPort{
			netip.MustParseAddrPort("127.0.0.1:5000"), netip.MustParseAddrPort("[::1]:5001"),
			netip.MustParseAddrPort("0.0.0.0:5002"),
		},
		PortMin: 6000, PortMax: 6010,
	}
	own := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("192.0.2.2"), net.ParseIP("fd00::2")}
	relay := netip.MustParseAddrPort("192.0.2.2:6003")
	p := newPeers(media, own, 6005, func(a netip.AddrPort) bool { return a == relay })
	for addr, want := range map[string]bool{
		"127.0.0.1:5000":          true,
		"[::ffff:127.0.0.1]:5000": true,
		"127.0.0.1:5001":          false, // another port of the same address
		"192.0.2.2:5000":          false, // the same port on another address
		"[::1]:5001":              true,
		"[::1]:5000":              false,
		"192.0.2.2:5002":          true, // a socket on every address
		"[fd00::2]:5002":          true,
		"198.51.100.7:5002":       false, // not this machine
		"192.0.2.2:6000":          true,  // the per-connection range
		"[fd00::2]:6010":          true,
		"127.0.0.1:5999":          false,
		"127.0.0.1:6011":          false,
		"127.0.0.1:6005":          false, // the TURN port, even inside the range
		"192.0.2.2:6003":          false, // a relay, even inside the range
		"198.51.100.7:6000":       false,
		"127.0.0.1:22":            false,
	} {
		if got := p.allows(netip.MustParseAddrPort(addr)); got != want {
			t.Errorf("allows(%s) = %v, want %v", addr, got, want)
		}
	}

	p = newPeers(Media{UDP: media.UDP[:2]}, own, 6005, func(netip.AddrPort) bool { return false })
	for ip, want := range map[string]bool{"127.0.0.1": true, "::1": true, "192.0.2.2": false, "198.51.100.7": false} {
		if got := p.allowsIP(netip.MustParseAddr(ip)); got != want {
			t.Errorf("without a range, allowsIP(%s) = %v, want %v", ip, got, want)
		}
	}
}

// udpAddr is the address of a socket.
func udpAddr(c net.PacketConn) *net.UDPAddr { return c.LocalAddr().(*net.UDPAddr) }

func TestRelaySendsToAndHearsFromMediaSocketsOnly(t *testing.T) {
	sfu := mediaSocket(t)
	other := mediaSocket(t) // a UDP service of this machine that is not meetd's media
	s := startServer(t, sfu)
	user, pass, _ := s.Credentials("ana")
	relay, err := client(t, s, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	// The relay handles the two in order: when the media socket has its
	// packet, the other one would have had its own.
	if _, err := relay.WriteTo([]byte("to other"), udpAddr(other)); err != nil {
		t.Fatal(err)
	}
	if _, err := relay.WriteTo([]byte("to sfu"), udpAddr(sfu)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	_ = sfu.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, relayAddr, err := sfu.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "to sfu" {
		t.Fatalf("media socket got %q, %v", buf[:n], err)
	}
	_ = other.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := other.ReadFrom(buf); err == nil {
		t.Errorf("the relay sent %q to a socket that is not meetd's media", buf[:n])
	}

	// Back: what the other socket sends is dropped, the media socket's
	// comes through (after it, in order).
	if _, err := other.WriteTo([]byte("from other"), relayAddr); err != nil {
		t.Fatal(err)
	}
	if _, err := sfu.WriteTo([]byte("from sfu"), relayAddr); err != nil {
		t.Fatal(err)
	}
	_ = relay.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, from, err := relay.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "from sfu" {
		t.Errorf("client got %q from %v (%v), want only what the media socket sent", buf[:n], from, err)
	}
}

func TestRangeExcludesRelaysAndTheTURNPort(t *testing.T) {
	s := startServerWith(t, Config{
		Port: freeUDPPort(t), Secret: "test-secret", Lifetime: time.Minute, RelayIP: net.IPv4(127, 0, 0, 1),
		Media: Media{PortMin: 1, PortMax: 65535},
	})
	user, pass, _ := s.Credentials("ana")
	relay, err := client(t, s, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	addr := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	if s.peers.allows(addr) {
		t.Errorf("relay %v may send to another relay: a loop", addr)
	}
	if turnAddr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(s.cfg.Port)); s.peers.allows(turnAddr) {
		t.Errorf("relays may send to the TURN port %v", turnAddr)
	}
	if other := udpAddr(mediaSocket(t)).AddrPort(); !s.peers.allows(other) {
		t.Errorf("a socket in the media range, %v, refused", other)
	}
	// Closing sends the server a refresh of lifetime zero; the server
	// then closes the relay.
	relay.Close()
	for deadline := time.Now().Add(10 * time.Second); s.participants.isRelay(addr); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("deleted relay %v still counts as one", addr)
		}
	}
}

func TestRevokeEndsCredentialsAndClosesRelays(t *testing.T) {
	s := startServer(t, mediaSocket(t))
	user, pass, _ := s.Credentials("ana")
	relay, err := client(t, s, user, pass).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	s.Revoke("ana")
	if err := allocate(t, s, user, pass); err == nil {
		t.Error("a revoked credential got a relay")
	}
	l, err := net.ListenPacket("udp4", relay.LocalAddr().String())
	if err != nil {
		t.Errorf("the relay of a revoked participant is still open: %v", err)
	} else {
		l.Close()
	}
	s.Revoke("nobody") // a client that never had credentials

	// A credential signed right but never issued (or issued by an earlier
	// meetd with the same secret) belongs to no participant here.
	user, pass, _ = turn.GenerateLongTermTURNRESTCredentials("test-secret", "bo", time.Minute)
	if err := allocate(t, s, user, pass); err == nil {
		t.Error("a credential never issued got a relay")
	}
}
