// Package turn is meetd's embedded TURN server: it relays the media of
// clients that cannot reach the SFU directly (UDP blocked, strict NATs,
// networks that only allow HTTPS), over UDP, TCP, and TLS on the HTTPS port.
// It relays only to meetd's own addresses, and only for participants holding
// a short-lived credential meetd issued them (TURN REST style).
package turn

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pion/turn/v5"

	"github.com/meetd/meetd/internal/signal"
)

// Realm is the TURN realm meetd's credentials are for.
const Realm = "meetd"

// DefaultLifetime is how long an issued credential works.
const DefaultLifetime = 6 * time.Hour

// Config is how the TURN server listens and relays.
type Config struct {
	// Port is where TURN listens, on UDP and TCP, on every address.
	Port int
	// TLS, when not nil, is a listener of TLS connections that carry TURN
	// (the HTTPS port's share of them); TLSPort is the port clients dial.
	TLS net.Listener
	// Secret signs credentials; empty means a random one (credentials then
	// stop working when meetd restarts, which is fine: clients get new ones
	// when they join again).
	Secret string
	// Lifetime is how long a credential works; zero means DefaultLifetime.
	Lifetime time.Duration
	// RelayIP is the address relays are opened on. Only meetd's SFU talks to
	// relay addresses, so a local address is right, even behind a NAT.
	RelayIP net.IP
	// PublicIPs are meetd's public addresses behind a 1:1 NAT: the SFU
	// announces them, and the relay sends to RelayIP in their place.
	PublicIPs []net.IP
	// Log gets one line per allocation.
	Log *slog.Logger
}

// Server is a running TURN server.
type Server struct {
	cfg    Config
	secret string
	server *turn.Server
	// own are the addresses peers may be at: meetd's own.
	own []net.IP

	// mu protects allocations.
	mu          sync.Mutex
	allocations map[string]int
}

// ErrNoRelayIP means no address was found to open relays on.
var ErrNoRelayIP = errors.New("no local IPv4 address to relay media on")

// NewServer starts a TURN server.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	secret := cfg.Secret
	if secret == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		secret = base64.RawURLEncoding.EncodeToString(b)
	}
	own, err := localIPs()
	if err != nil {
		return nil, err
	}
	if cfg.RelayIP == nil {
		cfg.RelayIP = pickRelayIP(own)
		if cfg.RelayIP == nil {
			return nil, ErrNoRelayIP
		}
	}
	own = append(own, cfg.PublicIPs...)
	s := &Server{cfg: cfg, secret: secret, own: own, allocations: map[string]int{}}

	udp, err := net.ListenPacket("udp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("TURN UDP port %d: %w", cfg.Port, err)
	}
	tcp, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		_ = udp.Close()
		return nil, fmt.Errorf("TURN TCP port %d: %w", cfg.Port, err)
	}
	relay := &relayGenerator{ip: cfg.RelayIP, public: cfg.PublicIPs}
	listeners := []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: relay, PermissionHandler: s.permit}}
	if cfg.TLS != nil {
		listeners = append(listeners, turn.ListenerConfig{Listener: cfg.TLS, RelayAddressGenerator: relay, PermissionHandler: s.permit})
	}
	plog := newPionLogger(cfg.Log)
	s.server, err = turn.NewServer(turn.ServerConfig{
		Realm:             Realm,
		AuthHandler:       turn.LongTermTURNRESTAuthHandler(secret, plog.NewLogger("turn")),
		LoggerFactory:     plog,
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: relay, PermissionHandler: s.permit}},
		ListenerConfigs:   listeners,
		EventHandler: turn.EventHandler{
			OnAllocationCreated: s.allocated,
		},
	})
	if err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, fmt.Errorf("TURN server: %w", err)
	}
	cfg.Log.Info("TURN listening", "port", cfg.Port, "tls", cfg.TLS != nil, "relay_ip", cfg.RelayIP.String())
	return s, nil
}

// Close stops the server and every relay.
func (s *Server) Close() error { return s.server.Close() }

// Credentials issues a participant's username and password, valid for the
// configured lifetime: username "expiry:participant", password
// base64(HMAC-SHA1(secret, username)).
func (s *Server) Credentials(participant string) (username, password string, err error) {
	return turn.GenerateLongTermTURNRESTCredentials(s.secret, participant, s.cfg.Lifetime)
}

// ICEServer is the entry for meetd's TURN server a participant gets in
// joined. host is the name the client reached meetd by (it resolves to
// meetd, and a TLS certificate is valid for it); tlsPort, when not zero, is
// the HTTPS port that also carries TURN over TLS.
func (s *Server) ICEServer(host, participant string, tlsPort int) (signal.ICEServer, error) {
	user, pass, err := s.Credentials(participant)
	if err != nil {
		return signal.ICEServer{}, err
	}
	h := host
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		h = "[" + host + "]"
	}
	port := strconv.Itoa(s.cfg.Port)
	urls := []string{
		"turn:" + h + ":" + port + "?transport=udp",
		"turn:" + h + ":" + port + "?transport=tcp",
	}
	if s.cfg.TLS != nil && tlsPort != 0 {
		urls = append(urls, "turns:"+h+":"+strconv.Itoa(tlsPort)+"?transport=tcp")
	}
	return signal.ICEServer{URLs: urls, Username: user, Credential: pass}, nil
}

// Allocations counts the allocations made since start by how the client
// reached the server: "udp", "tcp" or "tls".
func (s *Server) Allocations() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.allocations))
	for k, v := range s.allocations {
		out[k] = v
	}
	return out
}

func (s *Server) allocated(src, dst net.Addr, protocol, user, _ string, relay net.Addr, _ int) {
	transport := "udp"
	if _, ok := src.(*net.TCPAddr); ok {
		transport = "tcp"
		if s.cfg.TLS != nil && sameAddr(dst, s.cfg.TLS.Addr()) {
			transport = "tls"
		}
	}
	s.mu.Lock()
	s.allocations[transport]++
	s.mu.Unlock()
	s.cfg.Log.Info("TURN allocation", "participant", user, "transport", transport, "client", src.String(), "relay", relay.String())
}

func sameAddr(a, b net.Addr) bool {
	ta, ok1 := a.(*net.TCPAddr)
	tb, ok2 := b.(*net.TCPAddr)
	return ok1 && ok2 && ta.Port == tb.Port
}

// permit lets relays send only to meetd itself: the TURN server carries
// media to the SFU and is no open relay into the networks around it.
func (s *Server) permit(_ net.Addr, peer net.IP) bool {
	for _, ip := range s.own {
		if ip.Equal(peer) {
			return true
		}
	}
	s.cfg.Log.Info("TURN permission refused", "peer", peer.String())
	return false
}

// localIPs lists the addresses of this machine's interfaces.
func localIPs() ([]net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list local addresses: %w", err)
	}
	var ips []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP)
		}
	}
	return ips, nil
}

// pickRelayIP prefers a non-loopback IPv4 address, and takes loopback when
// that is all there is.
func pickRelayIP(ips []net.IP) net.IP {
	var loopback net.IP
	for _, ip := range ips {
		if ip.To4() == nil || ip.IsLinkLocalUnicast() {
			continue
		}
		if ip.IsLoopback() {
			loopback = ip
			continue
		}
		return ip
	}
	return loopback
}
