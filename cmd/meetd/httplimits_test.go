package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/httpd"
)

// closedByServer waits, up to limit, for the server to close conn: it
// reads and drops whatever comes until EOF.
func closedByServer(t *testing.T, conn net.Conn, limit time.Duration) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("meetd still held the connection after %v", limit)
	}
}

// TestIdleKeepAliveClosed: a keep-alive connection that sends no second
// request is closed by meetd after its idle timeout.
func TestIdleKeepAliveClosed(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{HTTP: httpd.Limits{IdleTimeout: 200 * time.Millisecond}})
	conn, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: "+m.Addr()+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Close {
		t.Fatalf("first request: %d, close %v; want 200 on a kept-alive connection", res.StatusCode, res.Close)
	}
	// The deadline is far beyond the idle timeout: only a server that never
	// closes idle connections reaches it.
	closedByServer(t, conn, 20*time.Second)
}

// TestStalledBodyIsCut: WHIP and WHEP POSTs whose bodies stop after a few
// bytes are answered and closed once the read timeout passes, rather than
// held open with a goroutine each.
func TestStalledBodyIsCut(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{HTTP: httpd.Limits{ReadTimeout: 300 * time.Millisecond}})
	var conns []net.Conn
	for i, path := range []string{"/whip/stall", "/whep/stall", "/whip/stall", "/healthz"} {
		conn, err := net.Dial("tcp", m.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		method := http.MethodPost
		if i == 3 {
			// A body where none is read: net/http would read it after the
			// handler.
			method = http.MethodGet
		}
		_, err = io.WriteString(conn, method+" "+path+" HTTP/1.1\r\nHost: "+m.Addr()+
			"\r\nContent-Type: application/sdp\r\nContent-Length: 1000\r\n\r\nv=0\r\no=- 1")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	for i, conn := range conns {
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: no answer: %v", i, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Logf("request %d: %d %q", i, res.StatusCode, body)
		if i < 3 && (res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "in time")) {
			t.Errorf("request %d: %d %q, want 408 saying the body did not arrive in time", i, res.StatusCode, body)
		}
		closedByServer(t, conn, 20*time.Second)
	}
}
