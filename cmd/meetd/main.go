// Command meetd serves camera and microphone broadcasts: a streamer page, a
// viewer page, and an SFU that forwards one streamer's media to any number
// of viewers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/client"
	"github.com/meetd/meetd/internal/cluster"
	"github.com/meetd/meetd/internal/httpd"
	"github.com/meetd/meetd/internal/metrics"
	"github.com/meetd/meetd/internal/portmux"
	"github.com/meetd/meetd/internal/publicip"
	"github.com/meetd/meetd/internal/record"
	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	msg "github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/turn"
	"github.com/meetd/meetd/web"
)

func main() {
	if len(os.Args) > 1 {
		if cmd, ok := commands[os.Args[1]]; ok {
			if err := cmd(os.Args[2:], os.Stdin, os.Stdout, os.Getenv); err != nil {
				fmt.Fprintln(os.Stderr, "meetd:", err)
				os.Exit(2)
			}
			return
		}
	}
	cfg, err := ParseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meetd:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	m := NewMain(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "meetd:", err)
		if ctx.Err() != nil {
			return // told to stop while starting
		}
		os.Exit(1)
	}
	<-ctx.Done()
	// A second signal stops meetd at once.
	stop()
	m.log.Info("shutting down")
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "meetd:", err)
		os.Exit(1)
	}
}

// Main is a running meetd: tests start it on port 0 and close it.
type Main struct {
	Config Config

	log   *slog.Logger
	api   *sfu.API
	rooms *room.Directory
	ln    net.Listener
	mux   *portmux.Mux // with HTTPS: sorts HTTP from TURN on the port
	turn  *turn.Server
	acme  *http.Server // ACME challenges on port 80
	srv   *http.Server
	httpd *httpd.Server
	done  chan error
	pprof *http.Server
	// access is the rooms' policy, when there is one.
	access *access.Policy
	// recorder records rooms; nil when recording is off.
	recorder *record.Recorder
	// cluster is this node in its cluster, nil for one node.
	cluster *cluster.Node
}

// NewMain makes a Main for cfg.
func NewMain(cfg Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, log: log}
}

// Run starts serving and returns once meetd listens. On error, what was
// started is stopped again.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.stop()
		}
	}()
	if err := m.discoverPublicIP(ctx); err != nil {
		return err
	}
	if m.api, err = sfu.NewAPI(m.Config.SFU, m.log); err != nil {
		return err
	}
	site, err := m.setupTLS()
	if err != nil {
		return err
	}
	if m.ln, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return err
	}
	if m.Config.PprofAddr != "" {
		if m.pprof, err = servePprof(m.Config.PprofAddr, m.Config.HTTP, m.log); err != nil {
			return err
		}
	}
	httpLn := m.ln
	scheme := "http"
	if site.tls != nil {
		scheme = "https"
		m.mux = portmux.New(m.ln, site.tls, m.log)
		httpLn = m.mux.HTTP()
	}
	m.rooms = room.NewDirectory(m.log, m.Config.Limits)
	perAddr := newPerAddr(m.Config.PerAddr, m.log)
	m.rooms.SetOpener(client.RoomOpener(perAddr.rooms))
	met := metrics.New(m.rooms, m.api.Counters(), m.api.BatchStats, client.Stats{})
	if len(m.Config.Cluster.NATS) > 0 {
		if err := m.joinCluster(ctx, met); err != nil {
			return err
		}
	}
	env := &client.Env{API: m.api, Rooms: m.rooms, Log: m.log, Metrics: met}
	if m.cluster != nil {
		env.Stages = m.cluster
	}
	if len(m.Config.ICEServers) > 0 {
		env.ICEServers = []msg.ICEServer{{URLs: m.Config.ICEServers}}
	}
	if m.Config.RoomsFile != "" || m.Config.TokenSecret != "" {
		if m.Config.RoomsFile != "" {
			env.Access, err = access.Load(m.Config.RoomsFile, []byte(m.Config.TokenSecret))
		} else {
			env.Access, err = access.New(nil, []byte(m.Config.TokenSecret))
		}
		if err != nil {
			return err
		}
		passwords := m.Config.Passwords
		passwords.Log = m.log
		env.Access.SetLimits(passwords)
		m.access = env.Access
	}
	if m.recorder, err = m.startRecorder(env.Access); err != nil {
		return err
	}
	if m.recorder != nil {
		env.Recorder = m.recorder
		if err := met.Register(m.recorder); err != nil {
			return fmt.Errorf("recording metrics: %w", err)
		}
	}
	if m.Config.TURN.Enabled {
		if err := m.startTURN(env); err != nil {
			return err
		}
	}
	m.httpd = httpd.New(httpd.Config{
		AllowedOrigins: m.Config.AllowedOrigins, App: web.Dist(), Trust: site.trust,
		Metrics: met, AdminPassword: m.Config.AdminPassword,
		TrustProxy: m.Config.TrustProxy, Connections: perAddr.connections, Sessions: perAddr.sessions,
		Hosts: m.hostNames(site), AllowedHosts: m.Config.AllowedHosts, Recordings: m.recorder,
	}, env)
	m.srv = m.Config.HTTP.NewServer(m.httpd, m.log)
	m.done = make(chan error, 1)
	go func() { m.done <- m.srv.Serve(httpLn) }()
	if site.acme != nil {
		if err := m.serveACME(site.acme); err != nil {
			return err
		}
	}
	url := scheme + "://" + displayAddr(m.ln.Addr())
	m.log.Info("meetd listening", "addr", m.ln.Addr().String(), "url", url, "media_udp", m.api.MediaAddrs())
	if site.trust != nil {
		m.log.Info("HTTPS certificate from meetd's local authority: trust it once per device to avoid the browser warning",
			"ca_file", site.caFile, "sha256", site.trust.Fingerprint, "help", url+httpd.TrustPath)
	}
	return nil
}

// startTURN runs the embedded TURN server and issues credentials for it.
func (m *Main) startTURN(env *client.Env) error {
	cfg := turn.Config{
		Port: m.Config.TURN.Port, Secret: m.Config.TURN.Secret, Lifetime: m.Config.TURN.Lifetime,
		Log: m.log.With("part", "turn"), Media: m.mediaSockets(),
		MaxAllocationsPerUser: m.Config.TURN.MaxAllocationsPerUser, MaxAllocationsPerIP: m.Config.TURN.MaxAllocationsPerIP,
	}
	for _, s := range m.Config.SFU.PublicIPs {
		cfg.PublicIPs = append(cfg.PublicIPs, net.ParseIP(s))
	}
	tlsPort := 0
	if m.mux != nil {
		cfg.TLS = m.mux.TURN()
		tlsPort = m.ln.Addr().(*net.TCPAddr).Port
	}
	var err error
	if m.turn, err = turn.NewServer(cfg); err != nil {
		return err
	}
	env.TURN = func(host, participant string) []msg.ICEServer {
		name, port := splitHost(host, tlsPort)
		s, err := m.turn.ICEServer(name, participant, port)
		if err != nil {
			m.log.Error("TURN credential", "err", err)
			return nil
		}
		return []msg.ICEServer{{URLs: s.URLs, Username: s.Username, Credential: s.Credential}}
	}
	env.TURNRevoke = m.turn.Revoke
	return nil
}

// mediaSockets are the SFU's UDP sockets, the only peers of TURN relays:
// the shared ones (on -udp-port, or ports the kernel picked), or with
// -udp-ports the range of the per-connection ones.
func (m *Main) mediaSockets() turn.Media {
	var media turn.Media
	for _, a := range m.api.MediaAddrs() {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			media.UDP = append(media.UDP, ap)
		}
	}
	if sfu := m.Config.SFU; sfu.UDPPort == 0 && sfu.UDPPortMin != 0 {
		media.PortMin, media.PortMax = sfu.UDPPortMin, sfu.UDPPortMax
	}
	return media
}

// splitHost splits a request's Host into a name and the port the client
// dialed (def when it names none).
func splitHost(host string, def int) (string, int) {
	name, p, err := net.SplitHostPort(host)
	if err != nil {
		return strings.Trim(host, "[]"), def
	}
	port, err := strconv.Atoi(p)
	if err != nil || def == 0 {
		return name, def
	}
	return name, port
}

// discoverPublicIP asks the configured STUN server for the public address
// when none is set.
func (m *Main) discoverPublicIP(ctx context.Context) error {
	if m.Config.PublicIPSTUN == "" || len(m.Config.SFU.PublicIPs) > 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ip, err := publicip.Discover(ctx, m.Config.PublicIPSTUN)
	if err != nil {
		return fmt.Errorf("discover the public IP address (set -public-ip instead): %w", err)
	}
	m.Config.SFU.PublicIPs = []string{ip.String()}
	m.log.Info("public IP address discovered", "ip", ip.String(), "stun", m.Config.PublicIPSTUN)
	return nil
}

// Addr is the address meetd listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// drainTimeout bounds the wait for HTTP requests still running at
// shutdown; the ones left then are cut.
const drainTimeout = 5 * time.Second

// Close stops accepting connections and tells every WebSocket client at
// once that meetd is going away. Then it lets HTTP requests in progress
// finish, for drainTimeout at most, and cuts those left: a stalled client
// neither delays the others' notice nor makes the stop an error.
func (m *Main) Close() error {
	if m.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	servers := []*http.Server{m.srv}
	if m.acme != nil {
		servers = append(servers, m.acme)
	}
	// Shutdown closes the listeners at once, then waits for the requests
	// in progress. WebSockets are not among them (their connections were
	// taken over), so they are told in the meantime.
	drained := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { drained <- srv.Shutdown(ctx) }()
	}
	if m.cluster != nil {
		// Out of the cluster before the clients are told: they reconnect
		// to another node, which must find this one gone (docs/cluster.md).
		m.cluster.Leave()
	}
	m.httpd.Close()
	var err error
	for range servers {
		if e := <-drained; e != nil && err == nil {
			err = e
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		m.log.Warn("cutting HTTP requests still running at shutdown", "waited", drainTimeout)
		err = nil
	}
	for _, srv := range servers {
		_ = srv.Close()
	}
	if m.recorder != nil {
		m.recorder.Close()
	}
	m.rooms.Close()
	serveErr := <-m.done
	m.stop()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

// stop closes the listeners, the TURN server and the media sockets.
func (m *Main) stop() {
	if m.mux != nil {
		_ = m.mux.Close()
	} else if m.ln != nil {
		_ = m.ln.Close()
	}
	if m.turn != nil {
		_ = m.turn.Close()
	}
	if m.cluster != nil {
		// Its node links use the media sockets.
		m.cluster.Close()
		m.cluster = nil
	}
	if m.api != nil {
		m.api.Close()
	}
	if m.pprof != nil {
		_ = m.pprof.Close()
	}
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return "localhost:" + strconv.Itoa(tcp.Port)
		}
	}
	return a.String()
}
