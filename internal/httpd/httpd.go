// Package httpd serves meetd over HTTP: the embedded web app with its page
// routes, the /ws signaling WebSocket with its origin check, and health.
package httpd

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/meetd/meetd/internal/client"
	"github.com/meetd/meetd/internal/limit"
	"github.com/meetd/meetd/internal/metrics"
	"github.com/meetd/meetd/internal/record"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/whip"
)

// Config is what the HTTP side needs.
type Config struct {
	// AllowedOrigins lists origin host patterns (path.Match syntax, such as
	// "example.com" or "*.example.com") allowed to open /ws besides the
	// page's own origin.
	AllowedOrigins []string
	// App is the built web app (index.html and assets).
	App fs.FS
	// Metrics, when set, is served at /metrics, and its stats view at
	// /admin/stats to clients on this machine or with AdminPassword.
	Metrics       *metrics.Metrics
	AdminPassword string
	// Trust, when set, is served at CAPath and explained at TrustPath.
	Trust *Trust
	// TrustProxy lists the reverse proxies whose forwarding headers name
	// the client; anyone else's are ignored.
	TrustProxy Proxies
	// Connections and Sessions, when set, bound the /ws connections and
	// the WHIP and WHEP sessions each client address has open.
	Connections, Sessions *limit.Registry[netip.Addr]
	// Hosts are names meetd is reached by (the machine's, the
	// certificate's), and AllowedHosts more from the settings, both in
	// path.Match syntax: see hostAllowed.
	Hosts        []string
	AllowedHosts []string
	// Recordings, when set, serves the recordings and their pages.
	Recordings *record.Recorder
}

// Server routes meetd's HTTP requests.
type Server struct {
	cfg   Config
	env   *client.Env
	log   *slog.Logger
	mux   *http.ServeMux
	index []byte
	whip  *whip.Server

	// ctx ends every client's session when the server closes.
	ctx    context.Context
	cancel context.CancelFunc
	// mu protects closed, and orders clients.Add before Close's Wait.
	mu     sync.Mutex
	closed bool
	// clients counts running client sessions.
	clients sync.WaitGroup
	// refused logs refusals, a few a second at most; proxyWarning is done
	// once an untrusted proxy has been warned of.
	refused      *limit.Log
	proxyWarning sync.Once
}

// New builds the routes.
func New(cfg Config, env *client.Env) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, env: env, log: env.Log, mux: http.NewServeMux(), ctx: ctx, cancel: cancel, refused: limit.NewLog(env.Log)}
	if b, err := fs.ReadFile(cfg.App, "index.html"); err == nil {
		s.index = b
	} else {
		s.log.Warn("web app is not built: pages will say so", "err", err)
		s.index = []byte("<!doctype html><title>meetd</title><p>The meetd web app was not built into this binary. Build it with <code>make build</code>.</p>")
	}
	s.mux.HandleFunc("GET /ws", s.serveWS)
	s.whip = whip.New(env, whip.Config{
		Allowed: s.originAllowed, Remote: s.remote, Sessions: cfg.Sessions,
		Host: s.fetchHostAllowed, Refuse: s.refuseHost,
	})
	s.whip.Register(s.mux)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	if cfg.Trust != nil {
		s.mux.HandleFunc("GET "+CAPath, s.serveCA)
		s.mux.HandleFunc("GET "+TrustPath, s.serveTrust)
	}
	s.mux.Handle("GET /assets/", cacheForever(http.FileServerFS(cfg.App)))
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics.Handler())
		s.mux.Handle("GET /admin/stats", s.adminOnly(cfg.Metrics.StatsHandler()))
	}
	s.mux.HandleFunc("GET /{$}", s.servePage)
	s.mux.HandleFunc("GET /viewer", s.servePage)
	s.mux.HandleFunc("GET /b/{room}", s.servePage)
	s.mux.HandleFunc("GET /b/{room}/viewer", s.servePage)
	s.mux.HandleFunc("GET /meet", s.servePage)
	s.mux.HandleFunc("GET /meet/{room}", s.servePage)
	s.mux.HandleFunc("GET /diagnose", s.servePage)
	s.serveRecordings(cfg.Recordings)
	s.mux.HandleFunc("GET /", s.serveOther)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close ends every client session and waits for them to finish.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.clients.Wait()
	s.whip.Close()
}

// originAllowed says whether a page of the request's Origin may call meetd:
// its own pages, and those of AllowedOrigins.
func (s *Server) originAllowed(r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range s.cfg.AllowedOrigins {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}

// addClient counts a new client session, unless the server is closing.
func (s *Server) addClient() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.clients.Add(1)
	return true
}

func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	if name := r.PathValue("room"); name != "" && !signal.ValidRoomName(name) {
		s.writeIndex(w, r, http.StatusNotFound)
		return
	}
	s.writeIndex(w, r, http.StatusOK)
}

// serveOther serves a file of the app if there is one, and otherwise the
// app's not-found page.
func (s *Server) serveOther(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if st, err := fs.Stat(s.cfg.App, name); err == nil && !st.IsDir() && name != "index.html" {
		http.ServeFileFS(w, r, s.cfg.App, name)
		return
	}
	s.writeIndex(w, r, http.StatusNotFound)
}

func (s *Server) writeIndex(w http.ResponseWriter, r *http.Request, status int) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(s.index)
	}
}

// adminOnly lets through requests from this machine (see local), and
// others that give the admin password (HTTP basic auth, user "admin"). The
// page shows where participants connect from: no cache may keep it.
func (s *Server) adminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if s.local(r) {
			h.ServeHTTP(w, r)
			return
		}
		user, pw, ok := r.BasicAuth()
		if s.cfg.AdminPassword != "" && ok && user == "admin" &&
			subtle.ConstantTimeCompare([]byte(pw), []byte(s.cfg.AdminPassword)) == 1 {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="meetd admin"`)
		s.refused.Refused("refused: stats view without the admin password", "remote", r.RemoteAddr)
		http.Error(w, "The stats view is for the operator: open it on the server's machine without a proxy, or set -admin-password and give it (user admin).",
			http.StatusUnauthorized)
	})
}

func cacheForever(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Vite names assets by content hash.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		// Refused before the deadlines go, so that net/http never waits on
		// a body without one.
		http.Error(w, "A WebSocket upgrade request has no body.", http.StatusBadRequest)
		return
	}
	if !s.hostAllowed(r) {
		s.refuseHost(w, r)
		return
	}
	if !s.addClient() {
		http.Error(w, "meetd is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.clients.Done()
	addr, remote := s.remote(r)
	release, over := s.cfg.Connections.Acquire(addr)
	// The WebSocket keeps its own deadlines (pings, and a timeout per
	// write): lift the HTTP request's (Limits.Wrap) before the connection
	// is taken over, as net/http leaves them to the handler.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.AllowedOrigins})
	if err != nil {
		// Accept has answered the request (403 for a foreign origin).
		s.log.Info("websocket refused", "remote", remote, "origin", r.Header.Get("Origin"), "err", err)
		if over == nil {
			release()
		}
		return
	}
	if over != nil {
		refuseWS(ws, over)
		return
	}
	defer release()
	// The connection outlives s.ctx by a moment: the client says goodbye
	// when the server closes, then closes the connection itself.
	conn := signal.NewConn(context.Background(), ws, s.log.With("remote", remote))
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.ConnectionOpened()
		defer s.cfg.Metrics.ConnectionClosed()
	}
	c := client.New(s.env, conn, remote, r.Host)
	c.Run(s.ctx)
	conn.Close(nil)
	// Let the write loop flush and close the socket.
	select {
	case <-conn.Closed():
	case <-time.After(2 * time.Second):
	}
}

// refuseWS tells a client over its new WebSocket that a limit refuses it,
// and closes the socket: a browser cannot read the body of a refused
// handshake, so a 429 would reach the person as a bare failure. The limit
// has logged the refusal.
func refuseWS(ws *websocket.Conn, over error) {
	e := &signal.Error{Code: signal.CodeRateLimited, Message: over.Error()}
	if l, ok := over.(*limit.Error); ok {
		e.RetryAfter = l.Seconds()
	}
	data, _ := json.Marshal(signal.ErrorMessage(e))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// Close waits for the client's close frame; a client that sends none
	// is not waited for long.
	stop := context.AfterFunc(ctx, func() { ws.CloseNow() })
	defer stop()
	if ws.Write(ctx, websocket.MessageText, data) == nil {
		_ = ws.Close(websocket.StatusTryAgainLater, "too many connections from this address")
	}
	ws.CloseNow()
}
