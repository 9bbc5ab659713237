package record

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRecordingsPass: a room's stage password opens its recordings once
// (its two checks, meeting and broadcast, each a bcrypt); the pass the
// answer sets opens them again without a check, and opens no other room.
// A request with no credential is refused without asking for Basic
// credentials, which would make a browser open its own login box.
func TestRecordingsPass(t *testing.T) {
	r, err := New(Config{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var checks atomic.Int32
	mux := http.NewServeMux()
	r.Register(mux, Auth{
		Admin: func(*http.Request) bool { return false },
		Room: func(_ *http.Request, kind, room, password, _ string) error {
			checks.Add(1)
			if kind == "meeting" && password == "pw-"+room {
				return nil
			}
			return errors.New("wrong password")
		},
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	get := func(room, password string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/recordings", nil)
		if room != "" {
			req.Header.Set("X-Meetd-Room", room)
			req.Header.Set("X-Meetd-Password", password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i, c := range []struct {
		room, password string
		status         int
		checks         int32
	}{
		{"standup", "pw-standup", 200, 2}, // checked, and a pass set
		{"standup", "pw-standup", 200, 2}, // the pass: no check
		{"standup", "", 200, 2},           // the pass alone
		{"other", "pw-standup", 401, 4},   // another room: checked
		{"other", "pw-other", 200, 6},
		{"other", "pw-other", 200, 6},
	} {
		if resp := get(c.room, c.password); resp.StatusCode != c.status || checks.Load() != c.checks {
			t.Fatalf("request %d (%s): %d after %d checks, want %d after %d", i+1, c.room, resp.StatusCode, checks.Load(), c.status, c.checks)
		}
	}

	// A pass whose signature is changed opens nothing.
	for _, c := range jar.Cookies(mustURL(t, srv.URL)) {
		c.Value = c.Value[:len(c.Value)-2] + "AA"
		jar.SetCookies(mustURL(t, srv.URL), []*http.Cookie{c})
	}
	if resp := get("standup", ""); resp.StatusCode != 401 {
		t.Errorf("a forged pass: %d, want 401", resp.StatusCode)
	}

	resp := get("", "")
	if resp.StatusCode != 401 || strings.HasPrefix(strings.ToLower(resp.Header.Get("WWW-Authenticate")), "basic") {
		t.Errorf("no credential: %d, WWW-Authenticate %q: want 401 and no Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
