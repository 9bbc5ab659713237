package httpd

import (
	"crypto/subtle"
	"net/http"

	"github.com/meetd/meetd/internal/record"
)

// serveRecordings adds the recordings API (internal/record) and the web
// app's pages for it. The operator sees every recording, as for
// /admin/stats; a room's stage credential opens that room's.
func (s *Server) serveRecordings(rec *record.Recorder) {
	s.mux.HandleFunc("GET /recordings", s.servePage)
	s.mux.HandleFunc("GET /recordings/{id}", s.servePage)
	if rec == nil {
		for _, p := range []string{"GET /api/recordings", "GET /api/recordings/{id}", "DELETE /api/recordings/{id}",
			"GET /recordings/{id}/files/{file}", "GET /recordings/{id}/combined"} {
			s.mux.HandleFunc(p, recordingOff)
		}
		return
	}
	auth := record.Auth{Admin: s.admin}
	if s.env.Access != nil {
		auth.Room = func(r *http.Request, kind, room, password, token string) error {
			addr, _ := s.remote(r)
			return s.env.Access.StageCredential(kind, room, password, token, addr)
		}
	}
	rec.Register(s.mux, auth)
}

// admin reports whether a request is the operator's: from this machine
// with no proxy in between, or with the admin password (user admin).
func (s *Server) admin(r *http.Request) bool {
	if s.local(r) {
		return true
	}
	user, pw, ok := r.BasicAuth()
	return s.cfg.AdminPassword != "" && ok && user == "admin" &&
		subtle.ConstantTimeCompare([]byte(pw), []byte(s.cfg.AdminPassword)) == 1
}

func recordingOff(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"error":"Recording is off on this server."}` + "\n"))
}
