package httpd

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/meetd/meetd/internal/client"
	"github.com/meetd/meetd/internal/room"
)

func TestRoutes(t *testing.T) {
	app := fstest.MapFS{
		"index.html":         {Data: []byte("<html>app</html>")},
		"assets/app-1a2b.js": {Data: []byte("console.log(1)")},
		"favicon.svg":        {Data: []byte("<svg/>")},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := New(Config{App: app}, &client.Env{Rooms: room.NewDirectory(log, room.Limits{}), Log: log})
	defer s.Close()
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "app"},
		{"/viewer", 200, "app"},
		{"/b/team-standup", 200, "app"},
		{"/b/team-standup/viewer", 200, "app"},
		{"/b/bad%20name", 404, "app"},
		{"/meet", 200, "app"},
		{"/meet/brave-otter-42", 200, "app"},
		{"/meet/bad%20name", 404, "app"},
		{"/assets/app-1a2b.js", 200, "console.log"},
		{"/favicon.svg", 200, "<svg/>"},
		{"/no/such/page", 404, "app"},
		{"/healthz", 200, "ok"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("GET %s: %d %q, want %d with %q", tt.path, rec.Code, rec.Body.String(), tt.status, tt.body)
		}
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ws", nil))
	if rec.Code != http.StatusBadRequest && rec.Code != http.StatusUpgradeRequired {
		t.Errorf("GET /ws without upgrade: %d", rec.Code)
	}
}
