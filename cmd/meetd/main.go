// Command meetd serves camera and microphone broadcasts: a streamer page, a
// viewer page, and an SFU that forwards one streamer's media to any number
// of viewers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meetd/meetd/internal/client"
	"github.com/meetd/meetd/internal/httpd"
	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	msg "github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/web"
)

func main() {
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
		os.Exit(1)
	}
	<-ctx.Done()
	m.log.Info("shutting down")
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "meetd:", err)
		os.Exit(1)
	}
}

// Config is every setting of meetd. Each has a flag and an environment
// variable; the flag wins.
type Config struct {
	Addr           string
	AllowedOrigins []string
	ICEServers     []string
	SFU            sfu.Config
	LogLevel       slog.Level
	// PprofAddr, when set, serves net/http/pprof there, apart from the
	// public address.
	PprofAddr string
}

// ParseConfig reads flags from args, falling back to the environment.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("meetd", flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var origins, iceServers, interfaces, publicIPs, ports, level string
	var loopback bool
	fs.StringVar(&cfg.Addr, "addr", env("MEETD_ADDR", ":8080"), "address to serve HTTP on (env MEETD_ADDR)")
	fs.StringVar(&origins, "allowed-origins", env("MEETD_ALLOWED_ORIGINS", ""),
		"comma-separated origin hosts allowed to open /ws besides the page's own, e.g. app.example.com,*.example.org (env MEETD_ALLOWED_ORIGINS)")
	fs.StringVar(&iceServers, "ice-servers", env("MEETD_ICE_SERVERS", ""),
		"comma-separated STUN/TURN URLs handed to browsers, e.g. stun:stun.example.org:3478 (env MEETD_ICE_SERVERS)")
	fs.BoolVar(&loopback, "ice-loopback", env("MEETD_ICE_LOOPBACK", "") == "true" || env("MEETD_ICE_LOOPBACK", "") == "1",
		"also gather 127.0.0.1 candidates, so clients on this machine connect when loopback is its only network (env MEETD_ICE_LOOPBACK=true)")
	fs.StringVar(&interfaces, "ice-interfaces", env("MEETD_ICE_INTERFACES", ""),
		"comma-separated network interfaces to gather media candidates on; empty means all (env MEETD_ICE_INTERFACES)")
	fs.StringVar(&publicIPs, "public-ip", env("MEETD_PUBLIC_IP", ""),
		"comma-separated public IP addresses to announce for media, for a server behind a 1:1 NAT (env MEETD_PUBLIC_IP)")
	fs.StringVar(&ports, "udp-ports", env("MEETD_UDP_PORTS", ""),
		"UDP port range for media, MIN-MAX; empty means any (env MEETD_UDP_PORTS)")
	fs.StringVar(&cfg.PprofAddr, "pprof", env("MEETD_PPROF", ""),
		"address to serve Go profiles (/debug/pprof/) on, such as 127.0.0.1:6060; empty means none (env MEETD_PPROF)")
	fs.StringVar(&level, "log-level", env("MEETD_LOG_LEVEL", "info"), "debug, info, warn or error (env MEETD_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: meetd [flags]\n\nmeetd serves a streamer page at /, a viewer page at /viewer and signaling at /ws.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.AllowedOrigins = splitList(origins)
	cfg.ICEServers = splitList(iceServers)
	cfg.SFU.Loopback = loopback
	cfg.SFU.Interfaces = splitList(interfaces)
	cfg.SFU.PublicIPs = splitList(publicIPs)
	if ports != "" {
		lo, hi, ok := strings.Cut(ports, "-")
		min, err1 := strconv.ParseUint(lo, 10, 16)
		max, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil || min == 0 || min > max {
			return cfg, fmt.Errorf("-udp-ports %q: want MIN-MAX, such as 50000-50100", ports)
		}
		cfg.SFU.UDPPortMin, cfg.SFU.UDPPortMax = uint16(min), uint16(max)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return cfg, fmt.Errorf("-log-level %q: %w", level, err)
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Main is a running meetd: tests start it on port 0 and close it.
type Main struct {
	Config Config

	log   *slog.Logger
	ln    net.Listener
	srv   *http.Server
	httpd *httpd.Server
	done  chan error
	pprof *http.Server
}

// NewMain makes a Main for cfg.
func NewMain(cfg Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, log: log}
}

// Run starts serving and returns once meetd listens.
func (m *Main) Run(ctx context.Context) error {
	api, err := sfu.NewAPI(m.Config.SFU)
	if err != nil {
		return err
	}
	var ice []msg.ICEServer
	if len(m.Config.ICEServers) > 0 {
		ice = []msg.ICEServer{{URLs: m.Config.ICEServers}}
	}
	env := &client.Env{API: api, Rooms: room.NewDirectory(m.log), ICEServers: ice, Log: m.log}
	m.httpd = httpd.New(httpd.Config{AllowedOrigins: m.Config.AllowedOrigins, App: web.Dist()}, env)

	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return err
	}
	if m.Config.PprofAddr != "" {
		if m.pprof, err = servePprof(m.Config.PprofAddr, m.log); err != nil {
			ln.Close()
			return err
		}
	}
	m.ln = ln
	m.srv = &http.Server{Handler: m.httpd, ReadHeaderTimeout: 10 * time.Second}
	m.done = make(chan error, 1)
	go func() { m.done <- m.srv.Serve(ln) }()
	m.log.Info("meetd listening", "addr", ln.Addr().String(), "url", "http://"+displayAddr(ln.Addr()))
	return nil
}

// Addr is the address meetd listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Close stops accepting connections, tells every client, and waits for
// them to go, for a few seconds at most.
func (m *Main) Close() error {
	if m.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := m.srv.Shutdown(ctx)
	if m.pprof != nil {
		_ = m.pprof.Close()
	}
	m.httpd.Close()
	if serveErr := <-m.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
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
