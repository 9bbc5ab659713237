package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/metrics"
	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// from is an HTTP client whose connections come from ip, an address of
// loopback (Linux routes all of 127/8 there), and that adds header to
// every request.
func from(ip string, header http.Header) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	var rt http.RoundTripper = &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	if header != nil {
		rt = addHeader{rt, header}
	}
	return &http.Client{Transport: rt}
}

type addHeader struct {
	rt     http.RoundTripper
	header http.Header
}

func (a addHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range a.header {
		r.Header[k] = v
	}
	return a.rt.RoundTrip(r)
}

func wantJoined(t *testing.T, what string, m signal.Message) {
	t.Helper()
	if m.Type != signal.TypeJoined {
		t.Fatalf("%s: got %+v, want joined", what, m)
	}
}

// wantLimited checks a refusal by a limit: its code, its words, and when
// to try again.
func wantLimited(t *testing.T, what string, m signal.Message, words string) {
	t.Helper()
	if m.Type != signal.TypeError || m.Code != signal.CodeRateLimited || !strings.Contains(m.Message, words) ||
		!strings.Contains(m.Message, "try again in") || m.RetryAfter < 1 {
		t.Fatalf("%s: got %+v, want rate_limited saying %q and when to try again", what, m, words)
	}
}

func TestOneAddressCannotTakeEveryConnection(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{PerAddr: PerAddrLimits{Connections: 3}})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var held []*rawConn
	for i := range 3 {
		r := dialRaw(t, ctx, url, from("127.0.0.1", nil))
		wantJoined(t, "a connection within the limit", r.joinAs(ctx, fmt.Sprintf("room%d", i), "", "audience", ""))
		held = append(held, r)
	}
	over := dialRaw(t, ctx, url, from("127.0.0.1", nil))
	// The refusal comes first, whatever the client says; the join may not
	// even be read.
	_ = over.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"join","room":"room3","role":"audience"}`))
	msg, err := over.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantLimited(t, "a fourth connection", msg, "Too many connections from your address (3 at once)")
	if _, err := over.next(ctx); websocket.CloseStatus(err) != websocket.StatusTryAgainLater {
		t.Errorf("the refused connection: %v, want a close with status %d", err, websocket.StatusTryAgainLater)
	}

	// Another address gets in.
	other := dialRaw(t, ctx, url, from("127.0.0.2", nil))
	wantJoined(t, "a connection from another address", other.joinAs(ctx, "room0", "", "audience", ""))

	// Once one of the three closes, the address may connect again.
	held[0].ws.Close(websocket.StatusNormalClosure, "")
	waitUntil(t, ctx, "a connection after one of three closed", func() bool {
		r := dialRaw(t, ctx, url, from("127.0.0.1", nil))
		data, _ := json.Marshal(signal.Message{Type: signal.TypeJoin, Room: "again", Role: "audience"})
		r.send(ctx, string(data))
		msg, err := r.next(ctx)
		if err == nil && msg.Type == signal.TypeJoined {
			return true
		}
		if err == nil {
			wantLimited(t, "while the closed connection is still counted", msg, "connections")
		}
		r.ws.CloseNow()
		return false
	})
}

func TestOneAddressCannotOpenEveryRoom(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{PerAddr: PerAddrLimits{Rooms: 2, RoomsOpened: 3, RoomsWindow: time.Hour}})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a1 := dialRaw(t, ctx, url, from("127.0.0.1", nil))
	wantJoined(t, "the first room", a1.joinAs(ctx, "r1", "meeting", "stage", ""))
	// Moving to r2 closes r1: one room open, two opened.
	wantJoined(t, "the second room", a1.joinAs(ctx, "r2", "meeting", "stage", ""))
	a2 := dialRaw(t, ctx, url, from("127.0.0.1", nil))
	wantJoined(t, "the third room", a2.joinAs(ctx, "r3", "meeting", "stage", ""))
	a3 := dialRaw(t, ctx, url, from("127.0.0.1", nil))
	wantLimited(t, "a third room open at once", a3.joinAs(ctx, "r4", "meeting", "stage", ""),
		"Too many rooms opened from your address (2 at once)")
	if m.rooms.Get(room.Meeting, "r4") != nil {
		t.Fatal("the refused room exists")
	}

	// With r2 closed, the address holds one room, but has opened three
	// within the hour.
	a1.send(ctx, `{"type":"leave"}`)
	waitUntil(t, ctx, "r2 to close", func() bool { return m.rooms.Get(room.Meeting, "r2") == nil })
	wantLimited(t, "a fourth room within the hour", a3.joinAs(ctx, "r4", "meeting", "stage", ""),
		"Too many rooms opened from your address (3 in 60 min)")

	// Others still open rooms, and the address may join them.
	b := dialRaw(t, ctx, url, from("127.0.0.2", nil))
	wantJoined(t, "a room opened from another address", b.joinAs(ctx, "r5", "meeting", "stage", ""))
	wantJoined(t, "a room another address opened", a3.joinAs(ctx, "r5", "meeting", "stage", ""))
}

func TestWHIPSessionsPerAddress(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{PerAddr: PerAddrLimits{Sessions: 1}})
	base := "http://" + m.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pub, err := testclient.PublishWHIP(ctx, base+"/whip/obs", testclient.HTTPOptions{Client: from("127.0.0.1", nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	_, err = testclient.PlayWHEP(ctx, base+"/whep/obs", testclient.HTTPOptions{Client: from("127.0.0.1", nil)})
	he := wantStatus(t, "a second session from the address", err, http.StatusTooManyRequests)
	if he.Header.Get("Retry-After") == "" || !strings.Contains(he.Body, "Too many WHIP and WHEP sessions from your address (1 at once); try again in") {
		t.Errorf("the refusal: Retry-After %q, %q", he.Header.Get("Retry-After"), he.Body)
	}

	// Another address plays.
	player := playWHEP(t, ctx, base+"/whep/obs", testclient.HTTPOptions{Client: from("127.0.0.2", nil)})
	defer player.Close()

	// Once the first session ends, the address may start another.
	if st, err := pub.Delete(ctx); err != nil || st != http.StatusOK {
		t.Fatalf("DELETE: %d %v", st, err)
	}
	waitUntil(t, ctx, "a new session after the first ended", func() bool {
		again, err := testclient.PublishWHIP(ctx, base+"/whip/obs", testclient.HTTPOptions{Client: from("127.0.0.1", nil)})
		if err == nil {
			again.Close()
			return true
		}
		var he *testclient.HTTPError
		if !errors.As(err, &he) || (he.Status != http.StatusTooManyRequests && he.Status != http.StatusConflict) {
			t.Fatal(err)
		}
		return false
	})
}

func TestPasswordGuessingIsBounded(t *testing.T) {
	checkLeaks(t)
	rooms := roomsFile(t, `{"rooms":[
		{"kind":"meeting","name":"board","stagePassword":"{hash}"},
		{"kind":"meeting","name":"vault","stagePassword":"{hash}"},
		{"name":"show","stagePassword":"{hash}"}]}`)
	var clock atomic.Int64
	clock.Store(time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	m := runMeetd(t, Config{RoomsFile: rooms, Passwords: access.Limits{
		PerAddr: 3, PerRoom: 4, Window: time.Minute, Comparisons: 1,
		Now: func() time.Time { return time.Unix(0, clock.Load()) },
	}})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	attempt := func(ip, room, password string) signal.Message {
		t.Helper()
		r := dialRaw(t, ctx, url, from(ip, nil))
		defer r.ws.CloseNow()
		return r.joinAs(ctx, room, "meeting", "stage", password)
	}
	wantWrong := func(what string, m signal.Message) {
		t.Helper()
		if m.Type != signal.TypeError || m.Code != signal.CodeBadCredentials {
			t.Fatalf("%s: got %+v, want bad_credentials", what, m)
		}
	}
	comparisons := func(want uint64) {
		t.Helper()
		if n := m.access.Comparisons(); n != want {
			t.Fatalf("%d password comparisons, want %d", n, want)
		}
	}

	for range 3 {
		wantWrong("a wrong password", attempt("127.0.0.1", "board", "guess"))
	}
	comparisons(3)
	wantLimited(t, "a fourth wrong password", attempt("127.0.0.1", "board", "guess"),
		"Too many wrong passwords from your address")
	wantLimited(t, "the right password from that address", attempt("127.0.0.1", "board", "letmein"),
		"try again in 20 s")
	comparisons(3)

	// Another address gets in; coming back costs no comparison.
	wantJoined(t, "the right password from another address", attempt("127.0.0.2", "board", "letmein"))
	comparisons(4)
	wantJoined(t, "a reconnect", attempt("127.0.0.2", "board", "letmein"))
	comparisons(4)

	// WHIP's bearer goes through the same check: 429 and Retry-After.
	_, err := testclient.PublishWHIP(ctx, "http://"+m.Addr()+"/whip/show",
		testclient.HTTPOptions{Client: from("127.0.0.1", nil), Token: "guess"})
	he := wantStatus(t, "WHIP from the locked-out address", err, http.StatusTooManyRequests)
	if he.Header.Get("Retry-After") != "20" || !strings.Contains(he.Body, "Too many wrong passwords from your address") {
		t.Errorf("WHIP refusal: Retry-After %q, %q", he.Header.Get("Retry-After"), he.Body)
	}
	comparisons(4)

	// After the wait the refusal named, the address gets in.
	clock.Add(int64(20 * time.Second))
	wantJoined(t, "the right password after the wait", attempt("127.0.0.1", "board", "letmein"))

	// A room's count, from every address: three and one wrong passwords
	// for the vault from two addresses, and a third address is refused,
	// even with the right password.
	for range 3 {
		wantWrong("a wrong password for the vault", attempt("127.0.0.3", "vault", "guess"))
	}
	wantWrong("a fourth for the vault, from another address", attempt("127.0.0.4", "vault", "guess"))
	comparisons(8)
	wantLimited(t, "the vault after four wrong passwords", attempt("127.0.0.5", "vault", "letmein"),
		"Too many wrong passwords for this room")
	comparisons(8)
	wantJoined(t, "another room, from that address", attempt("127.0.0.5", "board", "letmein"))
}

func TestStatsViewBehindProxies(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stats := func(base string, header http.Header, password bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/admin/stats?format=json", nil)
		for k, v := range header {
			req.Header[k] = v
		}
		if password {
			req.SetBasicAuth("admin", "ops")
		}
		res, err := from("127.0.0.1", nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		return res.StatusCode, string(body)
	}
	remotes := func(body string) []string {
		t.Helper()
		var s struct{ Rooms []metrics.RoomStats }
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range s.Rooms {
			for _, p := range r.Participants {
				out = append(out, p.Remote)
			}
		}
		return out
	}

	// Without -trust-proxy: local only with no forwarding header at all.
	m := runMeetd(t, Config{AdminPassword: "ops"})
	base := "http://" + m.Addr()
	if code, _ := stats(base, nil, false); code != http.StatusOK {
		t.Errorf("from loopback: %d", code)
	}
	for _, h := range []http.Header{
		{"X-Real-Ip": {"198.51.100.7"}},
		{"Forwarded": {"for=198.51.100.7"}},
		{"X-Forwarded-Host": {"meet.example.org"}},
	} {
		if code, _ := stats(base, h, false); code != http.StatusUnauthorized {
			t.Errorf("from loopback with %v and no password: %d, want 401", h, code)
		}
		if code, _ := stats(base, h, true); code != http.StatusOK {
			t.Errorf("with %v and the password: %d", h, code)
		}
	}
	// A client's own forwarding header names no one.
	spoof := dialRaw(t, ctx, "ws://"+m.Addr()+"/ws", from("127.0.0.1", http.Header{"X-Forwarded-For": {"198.51.100.7"}}))
	wantJoined(t, "a client sending X-Forwarded-For", spoof.joinAs(ctx, "talk", "", "audience", ""))
	_, body := stats(base, nil, false)
	if r := remotes(body); len(r) != 1 || !strings.HasPrefix(r[0], "127.0.0.1:") {
		t.Errorf("remote addresses %v, want the TCP peer's", r)
	}

	// Behind a trusted proxy on this machine, every request needs the
	// password, and the proxy's header names the client.
	p := runMeetd(t, Config{AdminPassword: "ops", TrustProxy: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	pbase := "http://" + p.Addr()
	if code, _ := stats(pbase, nil, false); code != http.StatusUnauthorized {
		t.Errorf("from the trusted proxy without the password: %d, want 401", code)
	}
	proxied := dialRaw(t, ctx, "ws://"+p.Addr()+"/ws", from("127.0.0.1", http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.7"}}))
	wantJoined(t, "a client through the proxy", proxied.joinAs(ctx, "talk", "", "audience", ""))
	code, body := stats(pbase, nil, true)
	if code != http.StatusOK {
		t.Fatalf("from the trusted proxy with the password: %d", code)
	}
	if r := remotes(body); len(r) != 1 || r[0] != "198.51.100.7" {
		t.Errorf("remote addresses %v, want the one the proxy named", r)
	}
}
