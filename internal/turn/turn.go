// Package turn is meetd's embedded TURN server: it relays the media of
// clients that cannot reach the SFU directly (UDP blocked, strict NATs,
// networks that only allow HTTPS), over UDP, TCP, and TLS on the HTTPS port.
// It relays only to meetd's own media sockets (address and port), only for
// participants holding a short-lived credential meetd issued them (TURN REST
// style), and only while they are connected to meetd; allocations are capped
// per participant and per client address.
package turn

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
	"golang.org/x/time/rate"
)

// Realm is the TURN realm meetd's credentials are for.
const Realm = "meetd"

// DefaultLifetime is how long an issued credential works.
const DefaultLifetime = 6 * time.Hour

// Default caps of live allocations. A browser makes one allocation per
// TURN URL (UDP, TCP, TLS: three) for each of its two peer connections, on
// each network it has: six on one network, twelve with a second network or
// across an ICE restart. Past the cap it only lacks some relay candidates.
// A school or office behind one NAT address brings many participants from
// one address: a thousand allocations are about 160 of them at six each,
// and a thousand relay sockets is as much as one address may hold open.
const (
	DefaultMaxAllocationsPerUser = 12
	DefaultMaxAllocationsPerIP   = 1000
)

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
	// Media are meetd's media sockets, the only peers relays reach.
	Media Media
	// MaxAllocationsPerUser and MaxAllocationsPerIP cap the live
	// allocations of one participant and of one client address; zero means
	// no cap.
	MaxAllocationsPerUser, MaxAllocationsPerIP int
	// Log gets one line per allocation.
	Log *slog.Logger
}

// Server is a running TURN server.
type Server struct {
	cfg    Config
	secret string
	server *turn.Server
	// public are meetd's public addresses (PublicIPs).
	public []net.IP
	// peers are meetd's media sockets; participants those relayed for.
	peers        *peers
	participants *participants
	// Logs of what a client can repeat at will are kept few.
	refusedPeer, refusedQuota, refusedGone quietLog

	// mu protects allocations.
	mu          sync.Mutex
	allocations map[string]int
}

// quietLog logs an event a client can repeat at will: the first few, then
// one line a minute, each with how many there were in all.
type quietLog struct {
	every rate.Sometimes
	n     atomic.Int64
}

func (q *quietLog) log(l *slog.Logger, msg string, args ...any) {
	n := q.n.Add(1)
	q.every.Do(func() { l.Warn(msg, append(args, "total", n)...) })
}

func newQuietLogs(s *Server) {
	for _, q := range []*quietLog{&s.refusedPeer, &s.refusedQuota, &s.refusedGone} {
		q.every = rate.Sometimes{First: 5, Interval: time.Minute}
	}
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
	s := &Server{
		cfg: cfg, secret: secret, public: cfg.PublicIPs, allocations: map[string]int{},
		participants: newParticipants(cfg.MaxAllocationsPerUser, cfg.MaxAllocationsPerIP),
	}
	newQuietLogs(s)
	s.peers = newPeers(cfg.Media, own, cfg.Port, s.participants.isRelay)
	if cfg.Media.Empty() {
		cfg.Log.Warn("TURN relays reach no media socket: meetd's media ports are not known (set -udp-port or -udp-ports)")
	}

	udp, err := net.ListenPacket("udp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("TURN UDP port %d: %w", cfg.Port, err)
	}
	tcp, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		_ = udp.Close()
		return nil, fmt.Errorf("TURN TCP port %d: %w", cfg.Port, err)
	}
	relay := &relayGenerator{
		ip: cfg.RelayIP, public: cfg.PublicIPs, peers: s.peers, participants: s.participants, refused: s.refusedRelay,
	}
	listeners := []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: relay, PermissionHandler: s.permit}}
	if cfg.TLS != nil {
		listeners = append(listeners, turn.ListenerConfig{Listener: cfg.TLS, RelayAddressGenerator: relay, PermissionHandler: s.permit})
	}
	plog := newPionLogger(cfg.Log)
	auth := turn.LongTermTURNRESTAuthHandler(secret, plog.NewLogger("turn"))
	s.server, err = turn.NewServer(turn.ServerConfig{
		Realm:             Realm,
		AuthHandler:       func(ra *turn.RequestAttributes) (string, []byte, bool) { return s.authenticate(auth, ra) },
		QuotaHandler:      s.quota,
		LoggerFactory:     plog,
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: relay, PermissionHandler: s.permit}},
		ListenerConfigs:   listeners,
		EventHandler: turn.EventHandler{
			OnAllocationCreated: s.allocated,
			OnAllocationDeleted: s.deleted,
		},
	})
	if err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, fmt.Errorf("TURN server: %w", err)
	}
	cfg.Log.Info("TURN listening", "port", cfg.Port, "tls", cfg.TLS != nil, "relay_ip", cfg.RelayIP.String(),
		"media", cfg.Media.UDP, "media_ports", fmt.Sprintf("%d-%d", cfg.Media.PortMin, cfg.Media.PortMax),
		"max_allocations_per_user", cfg.MaxAllocationsPerUser, "max_allocations_per_ip", cfg.MaxAllocationsPerIP)
	return s, nil
}

// Close stops the server and every relay.
func (s *Server) Close() error { return s.server.Close() }

// Credentials issues a participant's username and password, valid for the
// configured lifetime or until Revoke: username "expiry:participant",
// password base64(HMAC-SHA1(secret, username)).
func (s *Server) Credentials(participant string) (username, password string, err error) {
	// A second of slack: the username's expiry is rounded to seconds.
	s.participants.issue(participant, time.Now().Add(s.cfg.Lifetime+time.Second))
	return turn.GenerateLongTermTURNRESTCredentials(s.secret, participant, s.cfg.Lifetime)
}

// Revoke ends the credentials of a participant who left meetd: they get no
// more allocations, and the relays they hold are closed (pion then deletes
// their allocations). It is called once for every client, with credentials
// or not.
func (s *Server) Revoke(participant string) {
	open, had := s.participants.revoke(participant)
	for _, r := range open {
		_ = r.Close()
	}
	if had {
		s.cfg.Log.Info("TURN credentials revoked", "participant", participant, "relays_closed", len(open))
	}
}

// ICEServer is how a client reaches a TURN server: its URLs and the
// credential that works there.
type ICEServer struct {
	URLs                 []string
	Username, Credential string
}

// ICEServer is the entry for meetd's TURN server a participant gets in
// joined. host is the name the client reached meetd by (it resolves to
// meetd, and a TLS certificate is valid for it); tlsPort, when not zero, is
// the HTTPS port that also carries TURN over TLS.
func (s *Server) ICEServer(host, participant string, tlsPort int) (ICEServer, error) {
	user, pass, err := s.Credentials(participant)
	if err != nil {
		return ICEServer{}, err
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
	return ICEServer{URLs: urls, Username: user, Credential: pass}, nil
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
	s.participants.count(user, src, 1)
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

func (s *Server) deleted(src, _ net.Addr, _, user, _ string) {
	s.participants.count(user, src, -1)
}

// authenticate checks a credential as pion's TURN REST handler does, and
// also that its participant is still connected.
func (s *Server) authenticate(check turn.AuthHandler, ra *turn.RequestAttributes) (string, []byte, bool) {
	user, key, ok := check(ra)
	if !ok {
		return user, key, ok
	}
	if !s.participants.present(user) {
		s.refusedGone.log(s.cfg.Log, "TURN credential refused: its participant has left", "participant", user,
			"client", ra.SrcAddr.String(), "method", ra.Method.String())
		return "", nil, false
	}
	return user, key, true
}

// quota refuses an allocation past the caps per participant and per
// client address.
func (s *Server) quota(user, _ string, src net.Addr) bool {
	if why := s.participants.quota(user, src); why != "" {
		s.refusedQuota.log(s.cfg.Log, "TURN allocation refused: too many", "cap", why, "participant", user,
			"client", src.String(), "max_per_user", s.cfg.MaxAllocationsPerUser, "max_per_ip", s.cfg.MaxAllocationsPerIP)
		return false
	}
	return true
}

// refusedRelay logs a packet a relay did not send: to anything but meetd's
// media sockets.
func (s *Server) refusedRelay(participant string, to netip.AddrPort) {
	s.refusedPeer.log(s.cfg.Log, "TURN relay refused a peer that is not meetd's media", "participant", participant, "peer", to.String())
}

func sameAddr(a, b net.Addr) bool {
	ta, ok1 := a.(*net.TCPAddr)
	tb, ok2 := b.(*net.TCPAddr)
	return ok1 && ok2 && ta.Port == tb.Port
}

// permit lets relays send only to meetd itself: the TURN server carries
// media to the SFU and is no open relay into the networks around it. A
// permission names an address without a port; the relays check the port
// of each packet (relayConn).
func (s *Server) permit(_ net.Addr, peer net.IP) bool {
	for _, ip := range s.public {
		if ip.Equal(peer) {
			return true
		}
	}
	if ip, ok := netip.AddrFromSlice(peer); ok && s.peers.allowsIP(ip) {
		return true
	}
	s.refusedPeer.log(s.cfg.Log, "TURN permission refused: no media socket of meetd's at that address", "peer", peer.String())
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
