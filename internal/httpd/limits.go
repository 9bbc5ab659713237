package httpd

import (
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Limits bounds how long, and how much, one HTTP connection may hold of
// meetd. Every listener meetd serves HTTP on (HTTP or HTTPS, the ACME
// redirect, the profiles) uses them, so that no client can keep a
// connection, and the goroutine serving it, for ever.
type Limits struct {
	// ReadTimeout is how long a client has to send a request's headers,
	// and again how long it has to send its body.
	ReadTimeout time.Duration
	// WriteTimeout is how long a response may take to reach a client that
	// reads it slowly. Below zero it is not limited (the profiles, which
	// stream for as long as they are asked to).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new request
	// for this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (net/http allows 4 KiB
	// more for its own reading).
	MaxHeaderBytes int
}

// DefaultLimits are the limits of a meetd started without settings.
var DefaultLimits = Limits{
	ReadTimeout:    10 * time.Second,
	WriteTimeout:   time.Minute,
	IdleTimeout:    2 * time.Minute,
	MaxHeaderBytes: 32 << 10,
}

// MaxBodyBytes is the largest request body meetd reads: a WHIP or WHEP
// offer (see internal/whip).
const MaxBodyBytes = 64 << 10

// orDefault fills in the zero fields with DefaultLimits.
func (l Limits) orDefault() Limits {
	d := DefaultLimits
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = d.ReadTimeout
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return l
}

// NewServer is an http.Server for h held to l.
//
// It does not set http.Server.ReadTimeout: that deadline stays on the
// connection while the handler runs, and when it passes net/http cancels
// the request's context, cutting short a WHIP request waiting for its answer
// or a 30-second profile. Bodies get their own deadline instead (see Wrap).
func (l Limits) NewServer(h http.Handler, log *slog.Logger) *http.Server {
	l = l.orDefault()
	return &http.Server{
		Handler:           l.Wrap(h),
		ReadHeaderTimeout: l.ReadTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// Wrap holds each request of h to l: a request with a body must send all
// of it, at most MaxBodyBytes, within ReadTimeout, and the response must be
// written within WriteTimeout. The WebSocket handler lifts both deadlines
// for the connection it takes over (see serveWS).
func (l Limits) Wrap(h http.Handler) http.Handler {
	l = l.orDefault()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if l.WriteTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(l.WriteTimeout))
		}
		// ContentLength is -1 for a chunked body. Without a body there is
		// nothing to wait for: net/http reads the next request under its
		// own header and idle timeouts.
		if r.ContentLength != 0 {
			_ = rc.SetReadDeadline(time.Now().Add(l.ReadTimeout))
			r.Body = &bodyDeadline{ReadCloser: http.MaxBytesReader(w, r.Body, MaxBodyBytes), rc: rc}
		}
		h.ServeHTTP(w, r)
	})
}

// bodyDeadline lifts the read deadline once the whole body is read. While
// the handler runs on, net/http reads ahead on the connection, and a read
// deadline passing then would cancel the request's context. A body left
// unread keeps the deadline, which then bounds net/http's reading of the
// rest after the handler.
type bodyDeadline struct {
	io.ReadCloser
	rc   *http.ResponseController
	once sync.Once
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(func() { _ = b.rc.SetReadDeadline(time.Time{}) })
	}
	return n, err
}
