// Package portmux shares the HTTPS port between the web app and TURN over
// TLS: after each connection's TLS handshake it looks at the first bytes
// the client sends. A STUN/TURN message goes to the TURN server, anything
// else to net/http. Networks that only let HTTPS out then still carry media.
package portmux

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// handshakeTimeout bounds the TLS handshake and the wait for the first
// bytes, so idle connections do not pile up.
const handshakeTimeout = 10 * time.Second

// Mux accepts TLS connections on one listener and hands them out on two.
type Mux struct {
	ln   net.Listener
	cfg  *tls.Config
	log  *slog.Logger
	http *chanListener
	turn *chanListener

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New starts sorting the connections of ln, a TCP listener, after a TLS
// handshake with cfg.
func New(ln net.Listener, cfg *tls.Config, log *slog.Logger) *Mux {
	m := &Mux{ln: ln, cfg: cfg, log: log, done: make(chan struct{})}
	m.http = newChanListener(ln.Addr())
	m.turn = newChanListener(ln.Addr())
	m.wg.Add(1)
	go m.accept()
	return m
}

// HTTP is the listener of connections that are not TURN.
func (m *Mux) HTTP() net.Listener { return m.http }

// TURN is the listener of connections that speak STUN/TURN.
func (m *Mux) TURN() net.Listener { return m.turn }

// Close stops accepting and closes both listeners; connections already
// handed out stay open.
func (m *Mux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.done)
		err = m.ln.Close()
		_ = m.http.Close()
		_ = m.turn.Close()
	})
	m.wg.Wait()
	return err
}

func (m *Mux) accept() {
	defer m.wg.Done()
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			m.log.Error("HTTPS listener failed", "err", err)
			_ = m.Close()
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.sort(conn)
		}()
	}
}

// sort does the handshake, peeks, and hands the connection on.
func (m *Mux) sort(raw net.Conn) {
	_ = raw.SetDeadline(time.Now().Add(handshakeTimeout))
	tc := tls.Server(raw, m.cfg)
	if err := tc.Handshake(); err != nil {
		m.log.Debug("TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
		_ = raw.Close()
		return
	}
	br := bufio.NewReader(tc)
	head, err := br.Peek(8)
	if len(head) == 0 {
		// The client said nothing (an ACME TLS-ALPN check, a port scan).
		_ = tc.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	conn := &peekedConn{Conn: tc, r: br}
	to := m.http
	if err == nil && IsSTUN(head) {
		to = m.turn
	}
	if !to.deliver(conn, m.done) {
		_ = conn.Close()
	}
}

// stunMagicCookie is the fixed value at bytes 4–8 of every STUN message
// (RFC 5389).
const stunMagicCookie = 0x2112A442

// IsSTUN reports whether the first bytes of a stream start a STUN message:
// the two top bits are zero and the magic cookie follows the length. HTTP
// starts with a letter, so it never looks like one.
func IsSTUN(b []byte) bool {
	return len(b) >= 8 && b[0]&0xC0 == 0 && binary.BigEndian.Uint32(b[4:8]) == stunMagicCookie
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener is a net.Listener fed by the Mux.
type chanListener struct {
	addr      net.Addr
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn, done <-chan struct{}) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	case <-done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
