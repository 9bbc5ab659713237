package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/meetd/meetd/internal/httpd"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
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

// TestShutdownTellsClientsBeforeDraining: with an HTTP request stalled
// mid-body, a WebSocket client still hears shutting_down while that request
// is open and before Close returns; the stalled request is then cut, and
// the stop is a clean one.
func TestShutdownTellsClientsBeforeDraining(t *testing.T) {
	checkLeaks(t)
	m := NewMain(Config{Addr: "127.0.0.1:0", SFU: sfu.Config{Loopback: true, Interfaces: []string{"lo"}, FastEgress: fastEgress}}, testLog())
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws := dialRaw(t, ctx, "ws://"+m.Addr()+"/ws", nil)
	ws.send(ctx, `{"type":"join","room":"shutdown","role":"audience"}`)
	if msg, err := ws.next(ctx); err != nil || msg.Type != signal.TypeJoined {
		t.Fatalf("join: %+v %v", msg, err)
	}
	stalled, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	// meetd's "100 Continue" says the handler is reading the body.
	if _, err := io.WriteString(stalled, "POST /whip/stall HTTP/1.1\r\nHost: "+m.Addr()+
		"\r\nContent-Type: application/sdp\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = stalled.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(stalled)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, " 100 ") {
		t.Fatalf("want 100 Continue, got %q %v", line, err)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "\r\n" {
		t.Fatalf("want the end of 100 Continue, got %q %v", line, err)
	}
	if _, err := io.WriteString(stalled, "v=0\r\no=- 1"); err != nil {
		t.Fatal(err)
	}

	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	ws.expectError(ctx, signal.CodeShuttingDown)
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) before the client was told", err)
	default:
	}
	_ = stalled.SetReadDeadline(time.Now().Add(time.Millisecond))
	if _, err := br.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the stalled request was answered or cut (%v) before the client was told", err)
	}
	closedByServer(t, stalled, 20*time.Second)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v, want a clean stop", err)
		}
	case <-ctx.Done():
		t.Fatal("Close did not return")
	}
}

// TestOversizedMessagesKeepTheConnection: chat and offers over their
// limits get too_large, and the same connection goes on: its next chat is
// sent. Only a message over 1 MiB closes it, after saying so.
func TestOversizedMessagesKeepTheConnection(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialRaw(t, ctx, url, nil)
	c.send(ctx, `{"type":"join","room":"big-talk","kind":"meeting","role":"stage","name":"Ana"}`)
	if m, err := c.next(ctx); err != nil || m.Type != signal.TypeJoined {
		t.Fatalf("join: %+v %v", m, err)
	}
	for _, tc := range []struct{ what, msg string }{
		{"chat over its limit", `{"type":"chat","text":"` + strings.Repeat("é", signal.MaxChatText+1) + `"}`},
		{"chat over the message limit", `{"type":"chat","text":"` + strings.Repeat("x", signal.MaxMessageSize) + `"}`},
		{"offer with an sdp over its limit", `{"type":"offer","sdp":"` + strings.Repeat("x", 50_000) + `"}`},
		{"offer over the message limit", `{"type":"offer","sdp":"` + strings.Repeat("x", 512<<10) + `"}`},
	} {
		c.send(ctx, tc.msg)
		m, err := c.next(ctx)
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		if m.Type != signal.TypeError || m.Code != signal.CodeTooLarge || m.Message == "" {
			t.Fatalf("%s: got %+v, want too_large", tc.what, m)
		}
	}
	c.send(ctx, `{"type":"chat","text":"still here"}`)
	for {
		m, err := c.next(ctx)
		if err != nil {
			t.Fatalf("waiting for the chat: %v", err)
		}
		if m.Type == signal.TypeChat && m.Text == "still here" {
			break
		}
		if m.Type == signal.TypeError {
			t.Fatalf("chat after the oversized messages: %+v", m)
		}
	}
	// Over 1 MiB: meetd stops reading, says why and closes.
	go c.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"chat","text":"`+strings.Repeat("x", 1<<20)+`"}`))
	c.expectError(ctx, signal.CodeTooLarge)
	if _, err := c.next(ctx); err == nil {
		t.Fatal("connection still open after a message over 1 MiB")
	}
}

// TestWebSocketHostCheck: a browser's upgrade to /ws that names meetd by a
// foreign name, as a page re-pointed by DNS rebinding does, is refused;
// addresses, localhost, the machine's name, names in -allowed-hosts and
// requests through a reverse proxy are not.
func TestWebSocketHostCheck(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hostname, _ := os.Hostname()
	try := func(addr, host string, header ...string) (*http.Response, error) {
		t.Helper()
		h := http.Header{"Origin": []string{"http://" + host}}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		ws, res, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Host: host, HTTPHeader: h})
		if err == nil {
			ws.CloseNow()
		}
		return res, err
	}
	refused := func(what string, res *http.Response, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: accepted, want 403", what)
			return
		}
		if res == nil || res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %v, want 403", what, err)
			return
		}
		body, _ := io.ReadAll(res.Body)
		if !strings.Contains(string(body), "-allowed-hosts") {
			t.Errorf("%s: 403 %q, want words that name -allowed-hosts", what, body)
		}
	}

	addr := runMeetd(t, Config{}).Addr()
	_, port, _ := net.SplitHostPort(addr)
	res, err := try(addr, "evil.example:"+port)
	refused("evil.example", res, err)
	res, err = try(addr, "evil.example")
	refused("evil.example without a port", res, err)
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port, hostname + ":" + port} {
		if _, err := try(addr, host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	// Through a reverse proxy, whose public name meetd cannot know.
	if _, err := try(addr, "meet.example.com", "X-Forwarded-For", "198.51.100.7"); err != nil {
		t.Errorf("through a proxy: %v", err)
	}
	// Not a browser: no Origin, so no page to fear.
	if ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Host: "evil.example"}); err != nil {
		t.Errorf("without an Origin: %v", err)
	} else {
		ws.CloseNow()
	}

	// With -allowed-hosts, its names are let in and no others, even
	// through a proxy.
	addr = runMeetd(t, Config{AllowedHosts: []string{"meet.example.com", "*.example.net"}}).Addr()
	_, port, _ = net.SplitHostPort(addr)
	for _, host := range []string{"meet.example.com:" + port, "meet.example.com", "a.example.net", "127.0.0.1:" + port} {
		if _, err := try(addr, host); err != nil {
			t.Errorf("with -allowed-hosts, %s: %v", host, err)
		}
	}
	res, err = try(addr, "evil.example", "X-Forwarded-For", "198.51.100.7")
	refused("with -allowed-hosts, evil.example through a proxy", res, err)
}

// TestWHEPHostCheck: WHIP and WHEP, which a page's script calls with
// fetch, refuse a browser that names meetd by a foreign name; fetch can
// set forwarding headers itself, so they count only from a trusted proxy.
func TestWHEPHostCheck(t *testing.T) {
	checkLeaks(t)
	post := func(addr, host string, header ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/whep/talk", strings.NewReader("v=0\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Origin", "http://"+host)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	addr := runMeetd(t, Config{}).Addr()
	_, port, _ := net.SplitHostPort(addr)
	if code, body := post(addr, "evil.example:"+port); code != http.StatusForbidden || !strings.Contains(body, "-allowed-hosts") {
		t.Errorf("evil.example: %d %q, want 403 naming -allowed-hosts", code, body)
	}
	if code, _ := post(addr, "evil.example:"+port, "X-Forwarded-For", "198.51.100.7"); code != http.StatusForbidden {
		t.Errorf("evil.example with a forwarding header of its own: %d, want 403", code)
	}
	if code, body := post(addr, "127.0.0.1:"+port); code == http.StatusForbidden {
		t.Errorf("127.0.0.1: %d %q", code, body)
	}
	// Behind a trusted proxy, a name meetd cannot know is the proxy's.
	proxy, _ := netip.ParsePrefix("127.0.0.1/32")
	addr = runMeetd(t, Config{TrustProxy: []netip.Prefix{proxy}}).Addr()
	if code, body := post(addr, "meet.example.com", "X-Forwarded-For", "198.51.100.7"); code == http.StatusForbidden {
		t.Errorf("through a trusted proxy: %d %q", code, body)
	}
}

// runMainEnv makes the test binary run meetd's main instead of the tests,
// for TestSIGTERMStopsCleanly.
const runMainEnv = "MEETD_TEST_RUN_MAIN"

func init() {
	if os.Getenv(runMainEnv) != "" {
		os.Args = os.Args[:1]
		main()
		os.Exit(0)
	}
}

// TestSIGTERMStopsCleanly: meetd's own process, stopped by SIGTERM with a
// request stalled mid-body, tells its WebSocket client and exits 0.
func TestSIGTERMStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "MEETD_ADDR=127.0.0.1:0", "MEETD_ICE_LOOPBACK=true",
		"MEETD_ICE_INTERFACES=lo", "MEETD_STATE_DIR="+t.TempDir())
	logFile, err := os.Create(filepath.Join(t.TempDir(), "meetd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := func() string {
		b, _ := os.ReadFile(logFile.Name())
		return string(b)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("meetd's log:\n%s", logs())
		}
	})
	var addr string
	waitUntil(t, ctx, "meetd to listen", func() bool {
		for _, line := range strings.Split(logs(), "\n") {
			if !strings.Contains(line, "meetd listening") {
				continue
			}
			for _, f := range strings.Fields(line) {
				if a, ok := strings.CutPrefix(f, "addr="); ok {
					addr = a
					return true
				}
			}
		}
		return false
	})
	ws := dialRaw(t, ctx, "ws://"+addr+"/ws", nil)
	ws.send(ctx, `{"type":"join","room":"sigterm","role":"audience"}`)
	if m, err := ws.next(ctx); err != nil || m.Type != signal.TypeJoined {
		t.Fatalf("join: %+v %v", m, err)
	}
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := io.WriteString(stalled, "POST /whip/stall HTTP/1.1\r\nHost: "+addr+
		"\r\nContent-Type: application/sdp\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = stalled.SetReadDeadline(time.Now().Add(20 * time.Second))
	if line, err := bufio.NewReader(stalled).ReadString('\n'); err != nil || !strings.Contains(line, " 100 ") {
		t.Fatalf("want 100 Continue, got %q %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ws.expectError(ctx, signal.CodeShuttingDown)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("meetd stopped by SIGTERM: %v, want exit status 0", err)
	}
}
