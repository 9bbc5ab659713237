package main

// Helpers of meetd's tests: the server, clients of it, and waiting for
// what they do.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/certs"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// Running meetd.

// testStateDir holds the local certificate authority every HTTPS test
// uses. TestMain makes it before anything reads the system's roots, and
// points SSL_CERT_FILE at it: pion's TURN-over-TLS client checks the
// server against the system roots, with no way to pass others.
var testStateDir string

// fastEgress is whether test servers send media with meetd's own egress:
// MEETD_FAST_EGRESS as meetd reads it, so true unless it says false.
// make test runs the suite both ways.
var fastEgress = true

// TestMain runs a helper process's role (netns_test.go) or the tests,
// with the test authority in place.
func TestMain(m *testing.M) {
	if runHelper() {
		return
	}
	var err error
	if fastEgress, err = parseBool(os.Getenv("MEETD_FAST_EGRESS"), true); err != nil {
		fmt.Fprintln(os.Stderr, "MEETD_FAST_EGRESS:", err)
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "meetd-test-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testStateDir = dir
	names, ips := certs.MachineNames()
	local, err := certs.SelfSigned(filepath.Join(dir, "tls"), names, ips)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("SSL_CERT_FILE", local.CAFile)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testLog is where a test meetd logs: nowhere, or stderr with
// MEETD_TEST_LOG set.
func testLog() *slog.Logger {
	var out io.Writer = io.Discard
	if os.Getenv("MEETD_TEST_LOG") != "" {
		out = os.Stderr
	}
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// pionReads reports whether MEETD_PION_READ_PATH=true asks to run the
// tests with publishers' media read through pion, as -pion-read-path does.
func pionReads() bool {
	v := os.Getenv("MEETD_PION_READ_PATH")
	return v == "true" || v == "1"
}

// runMeetd starts meetd with cfg, on loopback unless cfg says otherwise,
// its media sent by the fast egress or pion as MEETD_FAST_EGRESS says.
func runMeetd(t *testing.T, cfg Config) *Main {
	t.Helper()
	return runMeetdEgress(t, cfg, fastEgress)
}

// runMeetdEgress is runMeetd with the fast egress on or off, whatever
// MEETD_FAST_EGRESS says.
func runMeetdEgress(t *testing.T, cfg Config, fast bool) *Main {
	t.Helper()
	cfg.SFU.FastEgress = fast
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.SFU.Interfaces == nil {
		cfg.SFU.Loopback, cfg.SFU.Interfaces = true, []string{"lo"}
	}
	if cfg.TLS.StateDir == "" {
		cfg.TLS.StateDir = testStateDir
	}
	if pionReads() {
		cfg.SFU.PionReadPath = true
	}
	m := NewMain(cfg, testLog())
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m
}

// startMeetd runs a real meetd on a loopback port for the test.
func startMeetd(t *testing.T) string {
	t.Helper()
	return "ws://" + runMeetd(t, Config{}).Addr() + "/ws"
}

// httpBase is the http:// base of meetd's WebSocket URL.
func httpBase(wsURL string) string {
	return "http://" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), "/ws")
}

// checkLeaks fails the test if goroutines started during it are still
// running after every client and the server have closed.
func checkLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// freePort finds a port free on loopback for both UDP and TCP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// roomsFile writes a room configuration file, with the bcrypt hash of
// the password "letmein" in place of {hash}, and returns its path.
func roomsFile(t *testing.T, text string) string {
	t.Helper()
	hash, err := access.HashPassword("letmein")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rooms.json")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "{hash}", hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testCAClient trusts the test authority.
func testCAClient(t *testing.T) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(testStateDir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// Waiting.

// waitUntil polls cond until it holds, failing the test when ctx ends
// first. It is the tests' one wait for a condition: a client's own
// events have testclient's Client.Wait.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Clients.

// dial connects a test client to meetd's WebSocket.
func dial(t *testing.T, ctx context.Context, url string, opts testclient.Options) *testclient.Client {
	t.Helper()
	c, err := testclient.Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// join enters c into broadcast room with role; any error fails the test.
func join(t *testing.T, ctx context.Context, c *testclient.Client, room, role string) {
	t.Helper()
	if err := c.Join(ctx, room, role); err != nil {
		t.Fatal(err)
	}
	if errs := c.Errors(); len(errs) > 0 {
		t.Fatalf("join %s as %s: %+v", room, role, errs)
	}
}

// goLive dials a streamer that joins the broadcast room on stage and
// publishes.
func goLive(t *testing.T, ctx context.Context, url, room string, opts testclient.Options) *testclient.Client {
	t.Helper()
	pub := dial(t, ctx, url, opts)
	join(t, ctx, pub, room, signal.RoleStage)
	if err := pub.Publish(ctx); err != nil {
		pub.Close()
		t.Fatal(err)
	}
	return pub
}

// enterMeeting dials a participant that joins the meeting on stage.
func enterMeeting(t *testing.T, ctx context.Context, url, room string, opts testclient.Options) *testclient.Client {
	t.Helper()
	c := dial(t, ctx, url, opts)
	if err := c.JoinKind(ctx, signal.KindMeeting, room, signal.RoleStage); err != nil {
		t.Fatal(err)
	}
	if errs := c.Errors(); len(errs) > 0 {
		t.Fatalf("%s joining: %+v", opts.Name, errs)
	}
	return c
}

// joinMeeting dials a participant, joins the meeting on stage and publishes.
func joinMeeting(t *testing.T, ctx context.Context, url, room string, opts testclient.Options) *testclient.Client {
	t.Helper()
	c := enterMeeting(t, ctx, url, room, opts)
	if err := c.Publish(ctx); err != nil {
		t.Fatalf("%s publishing: %v", opts.Name, err)
	}
	if err := c.SendMedia(true, true, ""); err != nil {
		t.Fatal(err)
	}
	return c
}

// inviteToStage has host invite guest to the stage, guest accept, and
// publish once meetd moved it.
func inviteToStage(t *testing.T, ctx context.Context, host, guest *testclient.Client) {
	t.Helper()
	invited := guest.Invitations()
	if err := host.Move(guest.ID(), signal.RoleStage); err != nil {
		t.Fatal(err)
	}
	if err := guest.Wait(ctx, "invitation", func() bool { return guest.Invitations() > invited }); err != nil {
		t.Fatal(err)
	}
	if r := guest.Roles(); len(r) > 0 && r[len(r)-1] == signal.RoleStage {
		t.Fatal("the guest was put on stage before accepting")
	}
	takeStage(t, ctx, guest, "")
}

// takeStage has c take the stage, with an invitation or the stage's
// password, and publish once meetd moved it.
func takeStage(t *testing.T, ctx context.Context, c *testclient.Client, password string) {
	t.Helper()
	if err := c.TakeStage(password, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(ctx, "the stage", func() bool {
		r := c.Roles()
		return len(r) > 0 && r[len(r)-1] == signal.RoleStage
	}); err != nil {
		t.Fatalf("%v (errors %+v)", err, c.Errors())
	}
	if err := c.Publish(ctx); err != nil {
		t.Fatal(err)
	}
}

// joinAudience dials n viewers into the audience of broadcast room and
// waits for their media; they close when the test ends.
func joinAudience(t *testing.T, ctx context.Context, url, room string, n int) []*testclient.Client {
	t.Helper()
	var viewers []*testclient.Client
	for range n {
		v := dial(t, ctx, url, testclient.Options{})
		t.Cleanup(v.Close)
		join(t, ctx, v, room, signal.RoleAudience)
		waitMedia(t, ctx, "viewer", v)
		viewers = append(viewers, v)
	}
	return viewers
}

// waitMedia waits until c received audio and video, and checks that
// none of it was lost.
func waitMedia(t *testing.T, ctx context.Context, name string, c *testclient.Client) {
	t.Helper()
	if err := c.WaitMedia(ctx, 25, 25); err != nil {
		t.Fatalf("%s: %v (audio %+v, video %+v)", name, err,
			c.Stats(webrtc.RTPCodecTypeAudio), c.Stats(webrtc.RTPCodecTypeVideo))
	}
	expectNoLoss(t, name, c)
}

// waitAllMedia waits until every client receives audio and video from
// every other.
func waitAllMedia(t *testing.T, ctx context.Context, clients []*testclient.Client, names []string, after map[string]int) {
	t.Helper()
	for i, c := range clients {
		for j, o := range clients {
			if i == j {
				continue
			}
			for _, label := range []string{"audio", "video"} {
				n := after[fmt.Sprint(i, j, label)] + 20
				if err := c.WaitFrom(ctx, o.ID(), label, n); err != nil {
					t.Fatalf("%s from %s: %v", names[i], names[j], err)
				}
			}
		}
		expectNoLoss(t, names[i], c)
	}
}

func counts(clients []*testclient.Client) map[string]int {
	m := map[string]int{}
	for i, c := range clients {
		for j, o := range clients {
			for _, label := range []string{"audio", "video"} {
				m[fmt.Sprint(i, j, label)] = c.From(o.ID(), label)
			}
		}
	}
	return m
}

// expectNoLoss checks that the media c received came in order with no
// sequence number skipped, as it does on loopback unless meetd drops it.
func expectNoLoss(t *testing.T, name string, c *testclient.Client) {
	t.Helper()
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if st := c.Stats(kind); st.Gaps != 0 {
			t.Errorf("%s: %d gaps in the sequence numbers of %d %s packets", name, st.Gaps, st.Packets, kind)
		}
	}
}

// Raw WebSocket connections.

// rawConn speaks to /ws byte by byte, to send what a well-behaved client never would.
type rawConn struct {
	t  *testing.T
	ws *websocket.Conn
}

// dialRaw opens /ws with client (nil: http.DefaultClient).
func dialRaw(t *testing.T, ctx context.Context, url string, client *http.Client) *rawConn {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	return &rawConn{t: t, ws: ws}
}

func (r *rawConn) send(ctx context.Context, s string) {
	r.t.Helper()
	if err := r.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		r.t.Fatalf("send %.40q: %v", s, err)
	}
}

// next reads the next message that is not a room update.
func (r *rawConn) next(ctx context.Context) (signal.Message, error) {
	for {
		_, data, err := r.ws.Read(ctx)
		if err != nil {
			return signal.Message{}, err
		}
		var m signal.Message
		if err := json.Unmarshal(data, &m); err != nil {
			r.t.Fatalf("meetd sent invalid JSON %q", data)
		}
		switch m.Type {
		case signal.TypeState, signal.TypeParticipants, signal.TypeSpeaker:
		default:
			return m, nil
		}
	}
}

func (r *rawConn) expectError(ctx context.Context, code string) {
	r.t.Helper()
	m, err := r.next(ctx)
	if err != nil {
		r.t.Fatalf("waiting for error %s: %v", code, err)
	}
	if m.Type != signal.TypeError || m.Code != code || m.Message == "" {
		r.t.Fatalf("got %+v, want an error %s with a message", m, code)
	}
}

// joinAs sends a join and returns the answer: joined, or an error.
func (r *rawConn) joinAs(ctx context.Context, room, kind, role, password string) signal.Message {
	r.t.Helper()
	data, _ := json.Marshal(signal.Message{Type: signal.TypeJoin, Room: room, Kind: kind, Role: role, Password: password})
	r.send(ctx, string(data))
	m, err := r.next(ctx)
	if err != nil {
		r.t.Fatalf("join %s: %v", room, err)
	}
	return m
}

// WHIP and WHEP.

func wantStatus(t *testing.T, what string, err error, status int) *testclient.HTTPError {
	t.Helper()
	var he *testclient.HTTPError
	if !errors.As(err, &he) || he.Status != status {
		t.Fatalf("%s: got %v, want status %d", what, err, status)
	}
	return he
}

// playWHEP plays endpoint once its broadcast is live: a WHIP publisher's
// tracks go on stage a moment after meetd answers it.
func playWHEP(t *testing.T, ctx context.Context, endpoint string, opts testclient.HTTPOptions) *testclient.HTTPSession {
	t.Helper()
	var s *testclient.HTTPSession
	waitUntil(t, ctx, "the broadcast at "+endpoint+" to play", func() bool {
		var err error
		s, err = testclient.PlayWHEP(ctx, endpoint, opts)
		var he *testclient.HTTPError
		if errors.As(err, &he) && he.Status == http.StatusServiceUnavailable {
			return false
		}
		if err != nil {
			t.Fatalf("WHEP %s: %v", endpoint, err)
		}
		return true
	})
	return s
}

// What a machine lacks.

// underCI reports whether the tests run under CI, with CI set as CI
// systems set it: "true" or "1" (any true value strconv.ParseBool reads).
func underCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// cannotRun ends a test whose network part this machine cannot run: it
// skips, saying why, except under CI, where it fails: CI must run every
// test.
func cannotRun(t *testing.T, format string, args ...any) {
	t.Helper()
	if underCI() {
		t.Fatalf(format+"; under CI this is a failure", args...)
	}
	t.Skipf(format+"; skipped", args...)
}

// needTool finds a program a test needs; missing, the test cannot run.
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		cannotRun(t, "%s is missing (%s; `make test` installs it)", name, install)
	}
	return path
}
