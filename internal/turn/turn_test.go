package turn

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// mediaSocket stands for one of the SFU's shared UDP sockets.
func mediaSocket(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func startServer(t *testing.T, media ...*net.UDPConn) *Server {
	t.Helper()
	cfg := Config{Port: freeUDPPort(t), Secret: "test-secret", Lifetime: time.Minute, RelayIP: net.IPv4(127, 0, 0, 1)}
	for _, c := range media {
		cfg.Media.UDP = append(cfg.Media.UDP, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return startServerWith(t, cfg)
}

func startServerWith(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client is a TURN client of s, closed at the end of the test.
func client(t *testing.T, s *Server, user, pass string) *turn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.cfg.Port))
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Username: user, Password: pass, Realm: Realm, Conn: conn,
		RTO: 100 * time.Millisecond,
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

// allocate asks the server for a relay with the credentials.
func allocate(t *testing.T, s *Server, user, pass string) error {
	t.Helper()
	relay, err := client(t, s, user, pass).Allocate()
	if err == nil {
		relay.Close()
	}
	return err
}

func TestCredentialsAllowRelaysUntilTheyExpire(t *testing.T) {
	s := startServer(t)
	user, pass, err := s.Credentials("ana")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(user, ":ana") {
		t.Errorf("username %q, want EXPIRY:ana", user)
	}
	if err := allocate(t, s, user, pass); err != nil {
		t.Errorf("fresh credential refused: %v", err)
	}
	if s.Allocations()["udp"] != 1 {
		t.Errorf("allocations %v, want one over udp", s.Allocations())
	}
	expiredUser, expiredPass, _ := turn.GenerateLongTermTURNRESTCredentials("test-secret", "ana", -time.Minute)
	if err := allocate(t, s, expiredUser, expiredPass); err == nil {
		t.Error("an expired credential got a relay")
	}
	otherUser, otherPass, _ := turn.GenerateLongTermTURNRESTCredentials("another-secret", "ana", time.Minute)
	if err := allocate(t, s, otherUser, otherPass); err == nil {
		t.Error("a credential signed with another secret got a relay")
	}
	if err := allocate(t, s, user, pass+"x"); err == nil {
		t.Error("a wrong password got a relay")
	}
}

func TestRelaysOnlyReachMeetd(t *testing.T) {
	s := startServer(t, mediaSocket(t))
	if !s.permit(nil, net.IPv4(127, 0, 0, 1)) {
		t.Error("loopback (meetd itself) refused")
	}
	for _, ip := range []string{"198.51.100.7", "8.8.8.8", "10.255.255.254", "127.0.0.2", "::1"} {
		if s.permit(nil, net.ParseIP(ip)) {
			t.Errorf("relay to %s allowed: TURN must not relay into other networks, nor where meetd has no media socket", ip)
		}
	}
}

func TestICEServerURLs(t *testing.T) {
	s := startServer(t)
	got, err := s.ICEServer("meet.example.org", "ana", 443)
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(s.cfg.Port)
	want := []string{"turn:meet.example.org:" + port + "?transport=udp", "turn:meet.example.org:" + port + "?transport=tcp"}
	if strings.Join(got.URLs, " ") != strings.Join(want, " ") || got.Username == "" || got.Credential == "" {
		t.Errorf("without TLS: %+v, want %v", got, want)
	}
	got, _ = s.ICEServer("::1", "ana", 0)
	if !strings.HasPrefix(got.URLs[0], "turn:[::1]:") {
		t.Errorf("IPv6 host: %v", got.URLs)
	}
}
