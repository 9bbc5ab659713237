package main

// Tests of what meetd's TURN server refuses: relaying anywhere but to
// meetd's media sockets, more allocations than the caps, and anything for
// a participant who has left. That it relays media to meetd is
// TestRelayOnlyViewerPlaysThroughEmbeddedTURN.

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// turnJoin joins the default room and returns the client and meetd's TURN
// server from joined, with the client's credential.
func turnJoin(t *testing.T, ctx context.Context, m *Main) (*testclient.Client, signal.ICEServer) {
	t.Helper()
	c := dial(t, ctx, "ws://"+m.Addr()+"/ws", testclient.Options{})
	t.Cleanup(c.Close)
	join(t, ctx, c, "default", signal.RoleAudience)
	servers := c.ICEServers()
	if len(servers) == 0 || !strings.HasPrefix(servers[0].URLs[0], "turn:") {
		t.Fatalf("joined carries no TURN server: %+v", servers)
	}
	return c, servers[0]
}

// turnClient is a pion TURN client of meetd's TURN server over UDP, from
// its own socket (so each makes its own allocation).
func turnClient(t *testing.T, m *Main, cred signal.ICEServer) *turn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Config.TURN.Port))
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Username: cred.Username, Password: cred.Credential,
		Realm: "meetd", Conn: conn,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		conn.Close()
	})
	return c
}

// relayedTo sends probes through relay to the UDP socket peer and reports
// whether any arrived. The server handles a client's messages in order,
// so once it answers a binding request sent after the probes it has
// relayed them, or not; the wait after that is a margin for the kernel to
// deliver them, not a bet on meetd's speed.
func relayedTo(t *testing.T, c *turn.Client, relay net.PacketConn, peer net.PacketConn) bool {
	t.Helper()
	for i := range 3 {
		if _, err := relay.WriteTo([]byte("probe "+strconv.Itoa(i)), peer.LocalAddr()); err != nil {
			t.Logf("send to %v: %v", peer.LocalAddr(), err)
			break
		}
	}
	if _, err := c.SendBindingRequest(); err != nil {
		t.Fatal(err)
	}
	_ = peer.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 100)
	n, from, err := peer.ReadFrom(buf)
	if err != nil {
		return false
	}
	t.Logf("%v got %q from %v", peer.LocalAddr(), buf[:n], from)
	return true
}

// localTargets are UDP sockets of test services on this machine: on
// loopback and on every other address of its interfaces.
func localTargets(t *testing.T) []net.PacketConn {
	t.Helper()
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	others := 0
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			ips = append(ips, n.IP)
			others++
		}
	}
	if others == 0 {
		t.Log("this machine has only loopback addresses: relaying to another address of its interfaces is not checked")
	}
	var targets []net.PacketConn
	for _, ip := range ips {
		network := "udp4"
		if ip.To4() == nil {
			network = "udp6"
		}
		l, err := net.ListenUDP(network, &net.UDPAddr{IP: ip})
		switch {
		case err == nil:
		case ip.Equal(net.IPv6loopback) && underCI():
			t.Fatalf("no IPv6 loopback (%v): relaying to [::1] cannot be checked; under CI this is a failure", err)
		case ip.Equal(net.IPv6loopback):
			t.Logf("no IPv6 loopback (%v): relaying to [::1] is not checked", err)
			continue
		default:
			t.Logf("no test socket on %v: %v", ip, err)
			continue
		}
		t.Cleanup(func() { l.Close() })
		targets = append(targets, l)
	}
	return targets
}

func TestTURNRelaysOnlyToMeetdsMediaSockets(t *testing.T) {
	cfg := Config{TURN: TURNConfig{Enabled: true, Port: freePort(t), Lifetime: time.Hour}}
	// Media sockets on every interface: then the TURN permission for each
	// address the probes go to is granted, and only the port stops them.
	cfg.SFU.Loopback, cfg.SFU.Interfaces = true, upInterfaces(t)
	m := runMeetd(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, cred := turnJoin(t, ctx, m)
	c := turnClient(t, m, cred)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	t.Logf("relay %v; meetd's media sockets %v", relay.LocalAddr(), m.api.MediaAddrs())

	t.Run("udp", func(t *testing.T) {
		for _, peer := range localTargets(t) {
			if relayedTo(t, c, relay, peer) {
				t.Errorf("the relay sent to %v, a UDP service of the machine that is not meetd's media", peer.LocalAddr())
			}
		}
	})

	t.Run("tcp", func(t *testing.T) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		peer := l.Addr().(*net.TCPAddr)
		if alloc, err := c.AllocateTCP(); err == nil {
			t.Errorf("a TCP relay (RFC 6062) was allocated at %v", alloc.Addr())
			if conn, err := alloc.Dial("tcp", peer.String()); err == nil {
				conn.Close()
			}
			alloc.Close()
		}
		// A Connect request on the UDP allocation asks for a TCP
		// connection too.
		if err := connectRequest(c, cred, peer); err == nil {
			t.Errorf("meetd's TURN server connected to %v", peer)
		} else {
			t.Logf("Connect to %v: %v", peer, err)
		}
		// Had the server connected, the connection would wait in the
		// listener's queue before the server answered.
		_ = l.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
		if conn, err := l.Accept(); err == nil {
			t.Errorf("the TCP service at %v got a connection from %v through TURN", peer, conn.RemoteAddr())
			conn.Close()
		}
	})
}

// upInterfaces names the machine's network interfaces that are up.
func upInterfaces(t *testing.T) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 {
			names = append(names, i.Name)
		}
	}
	return names
}

// xorPeerAddress is the XOR-PEER-ADDRESS attribute of a Connect request.
type xorPeerAddress struct{ addr *net.TCPAddr }

func (a xorPeerAddress) AddTo(m *stun.Message) error {
	return (&stun.XORMappedAddress{IP: a.addr.IP, Port: a.addr.Port}).AddToAs(m, stun.AttrXORPeerAddress)
}

// connectRequest sends a Connect request (RFC 6062) for c's allocation to
// peer, authenticated with cred, and returns nil if the server says it
// connected.
func connectRequest(c *turn.Client, cred signal.ICEServer, peer *net.TCPAddr) error {
	kind := stun.NewType(stun.MethodConnect, stun.ClassRequest)
	// The first try, unauthenticated, gets the server's nonce.
	res, err := c.PerformTransaction(stun.MustBuild(stun.TransactionID, kind, xorPeerAddress{peer}, stun.Fingerprint),
		c.TURNServerAddr(), false)
	if err != nil {
		return err
	}
	var nonce stun.Nonce
	if err := nonce.GetFrom(res.Msg); err != nil {
		return fmt.Errorf("no nonce in %v: %w", res.Msg, err)
	}
	req, err := stun.Build(stun.TransactionID, kind, xorPeerAddress{peer},
		stun.NewUsername(cred.Username), stun.NewRealm("meetd"), nonce,
		stun.NewLongTermIntegrity(cred.Username, "meetd", cred.Credential), stun.Fingerprint)
	if err != nil {
		return err
	}
	if res, err = c.PerformTransaction(req, c.TURNServerAddr(), false); err != nil {
		return err
	}
	if res.Msg.Type.Class == stun.ClassSuccessResponse {
		return nil
	}
	var code stun.ErrorCodeAttribute
	_ = code.GetFrom(res.Msg)
	return fmt.Errorf("refused: %v", code)
}

func TestTURNCapsAllocationsPerParticipantAndAddress(t *testing.T) {
	m := runMeetd(t, Config{TURN: TURNConfig{
		Enabled: true, Port: freePort(t), Lifetime: time.Hour, MaxAllocationsPerUser: 2, MaxAllocationsPerIP: 3,
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, ana := turnJoin(t, ctx, m)
	_, bo := turnJoin(t, ctx, m)
	allocate := func(cred signal.ICEServer) (net.PacketConn, error) {
		return turnClient(t, m, cred).Allocate()
	}
	var held []net.PacketConn
	for range 2 {
		r, err := allocate(ana)
		if err != nil {
			t.Fatalf("allocation within the caps refused: %v", err)
		}
		held = append(held, r)
	}
	if r, err := allocate(ana); err == nil {
		t.Errorf("a third allocation for one participant, past -turn-max-allocations-per-user 2: %v", r.LocalAddr())
	} else if !strings.Contains(err.Error(), "486") {
		t.Errorf("third allocation: %v, want 486 Allocation Quota Reached", err)
	}
	// Bo comes from the same address: one more is the third from it.
	r, err := allocate(bo)
	if err != nil {
		t.Fatalf("another participant's first allocation refused: %v", err)
	}
	held = append(held, r)
	if r, err := allocate(bo); err == nil {
		t.Errorf("a fourth allocation from one address, past -turn-max-allocations-per-ip 3: %v", r.LocalAddr())
	}
	// The caps count live allocations: one deleted makes room again.
	if err := held[0].Close(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "allocation after one was deleted", func() bool {
		r, err := allocate(bo)
		if err != nil {
			return false
		}
		r.Close()
		return true
	})
}

func TestTURNCredentialEndsWhenParticipantLeaves(t *testing.T) {
	m := runMeetd(t, Config{TURN: TURNConfig{Enabled: true, Port: freePort(t), Lifetime: time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, cred := turnJoin(t, ctx, m)
	relay, err := turnClient(t, m, cred).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	relayAddr := relay.LocalAddr().String()
	if l, err := net.ListenPacket("udp", relayAddr); err == nil {
		l.Close()
		t.Fatalf("relay %s is not open", relayAddr)
	}

	c.Close()
	waitUntil(t, ctx, "the credential of a participant who left refused", func() bool {
		r, err := turnClient(t, m, cred).Allocate()
		if err != nil {
			return true
		}
		r.Close()
		return false
	})
	// Its relay is closed, so nothing more goes through it: the address
	// is free again.
	waitUntil(t, ctx, "the relay of a participant who left closed", func() bool {
		l, err := net.ListenPacket("udp", relayAddr)
		if err != nil {
			return false
		}
		l.Close()
		return true
	})
}
