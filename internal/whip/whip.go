// Package whip serves WHIP ingest (RFC 9725) and WHEP playback: publishing
// into a broadcast, and watching one, with one HTTP request carrying an SDP
// offer. A session is a room participant like a WebSocket client, run by
// internal/client: its requests become the participant's join, offer and
// candidate messages, and the participant's answer or error becomes the
// response.
package whip

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/meetd/meetd/internal/client"
	"github.com/meetd/meetd/internal/limit"
	"github.com/meetd/meetd/internal/signal"
)

// Kinds of session, and the first segment of their URLs.
const (
	Ingest   = "whip"
	Playback = "whep"
)

const (
	// maxSDP bounds an offer or a fragment.
	maxSDP = 64 << 10
	// answerWait bounds the wait for the participant's answer.
	answerWait = 10 * time.Second
	// retryAfter is what a WHEP player is told to wait for a broadcast that
	// is not live yet, in seconds.
	retryAfter = "5"
)

// Config is what the server needs besides the clients' Env.
type Config struct {
	// Allowed says whether a browser page of another origin may call.
	Allowed func(r *http.Request) bool
	// Remote gives the client's address and how logs and the stats view
	// show it; nil takes the TCP peer's.
	Remote func(r *http.Request) (netip.Addr, string)
	// Sessions, when set, bounds the sessions of each client address.
	Sessions *limit.Registry[netip.Addr]
	// Host, when set, says whether the request names meetd by a name it
	// answers to; Refuse answers one that does not (DNS rebinding).
	Host   func(r *http.Request) bool
	Refuse func(w http.ResponseWriter, r *http.Request)
}

// Server holds the running sessions.
type Server struct {
	env *client.Env
	log *slog.Logger
	cfg Config

	ctx    context.Context
	cancel context.CancelFunc
	// mu protects sessions and closed, and orders wg.Add before Close's Wait.
	mu       sync.Mutex
	sessions map[string]*session
	closed   bool
	wg       sync.WaitGroup
}

// New makes a server.
func New(env *client.Env, cfg Config) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	if cfg.Remote == nil {
		cfg.Remote = func(r *http.Request) (netip.Addr, string) { return limit.ParseAddr(r.RemoteAddr), r.RemoteAddr }
	}
	return &Server{
		env: env, log: env.Log.With("part", "whip"), cfg: cfg,
		ctx: ctx, cancel: cancel, sessions: map[string]*session{},
	}
}

// Register adds the WHIP and WHEP routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	for _, kind := range []string{Ingest, Playback} {
		mux.HandleFunc("POST /"+kind+"/{room}", s.cors(func(w http.ResponseWriter, r *http.Request) { s.create(w, r, kind) }))
		mux.HandleFunc("PATCH /"+kind+"/{room}/{session}", s.cors(func(w http.ResponseWriter, r *http.Request) { s.trickle(w, r, kind) }))
		mux.HandleFunc("DELETE /"+kind+"/{room}/{session}", s.cors(func(w http.ResponseWriter, r *http.Request) { s.remove(w, r, kind) }))
		mux.HandleFunc("OPTIONS /"+kind+"/{room}", s.cors(preflight("POST, OPTIONS")))
		mux.HandleFunc("OPTIONS /"+kind+"/{room}/{session}", s.cors(preflight("PATCH, DELETE, OPTIONS")))
	}
}

// Close ends every session and waits for their participants to leave.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Sessions is how many sessions run.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) cors(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Host != nil && !s.cfg.Host(r) {
			s.cfg.Refuse(w, r)
			return
		}
		if r.Header.Get("Origin") != "" && s.cfg.Allowed(r) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "Location, Link, Retry-After")
		}
		h(w, r)
	}
}

func preflight(methods string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Allow", methods)
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
	}
}

// tooMany answers a request a limit refused: 429, Retry-After, and the
// limit in words.
func tooMany(w http.ResponseWriter, err error) {
	retry := 1
	var over *limit.Error
	if errors.As(err, &over) {
		retry = over.Seconds()
	}
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	fail(w, http.StatusTooManyRequests, "%v", err)
}

// fail answers with a status and a sentence.
func fail(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, format+"\n", args...)
}

func hasType(r *http.Request, want string) bool {
	t, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && t == want
}

// bearer is the request's bearer token, or empty.
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// looksLikeToken tells a signed invitation (a JWT) from a room password.
func looksLikeToken(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

func readBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSDP))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(w, http.StatusRequestEntityTooLarge, "The body is over %d bytes.", tooLarge.Limit)
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			// The server's read deadline for bodies (httpd.Limits) passed.
			fail(w, http.StatusRequestTimeout, "The body did not arrive in time.")
		} else {
			fail(w, http.StatusBadRequest, "Could not read the body: %v.", err)
		}
		return "", false
	}
	return string(body), true
}

// create starts a session: POST /whip/{room} publishes, POST /whep/{room} plays.
func (s *Server) create(w http.ResponseWriter, r *http.Request, kind string) {
	name := r.PathValue("room")
	if !signal.ValidRoomName(name) {
		fail(w, http.StatusNotFound, "Room names are 1 to 64 characters of A-Z, a-z, 0-9, _ and -.")
		return
	}
	if !hasType(r, "application/sdp") {
		fail(w, http.StatusUnsupportedMediaType, "Send the SDP offer as Content-Type application/sdp.")
		return
	}
	addr, remote := s.cfg.Remote(r)
	release, err := s.cfg.Sessions.Acquire(addr)
	if err != nil {
		// The limit has logged the refusal.
		tooMany(w, err)
		return
	}
	offer, ok := readBody(w, r)
	if !ok {
		release()
		return
	}
	ufrag, err := offerUfrag(offer)
	if err != nil {
		release()
		fail(w, http.StatusBadRequest, "The offer is not valid SDP: %v.", err)
		return
	}
	auth := bearer(r)
	sess := newSession(newID(), name, kind, auth)
	sess.ufrag = ufrag
	if !s.start(sess, r, remote, release) {
		release()
		fail(w, http.StatusServiceUnavailable, "meetd is shutting down.")
		return
	}
	join := signal.Message{Type: signal.TypeJoin, Room: name, Kind: signal.KindBroadcast, Role: signal.RoleAudience}
	if kind == Ingest {
		join.Role, join.Name = signal.RoleStage, "WHIP stream"
	}
	if looksLikeToken(auth) {
		join.Token = auth
	} else {
		join.Password = auth
	}
	sess.push(join)
	sess.push(signal.Message{Type: signal.TypeOffer, SDP: offer})

	answer, links, errMsg := s.await(r.Context(), sess)
	if errMsg != nil {
		sess.end()
		s.refuse(w, kind, errMsg)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", "/"+kind+"/"+name+"/"+sess.id)
	for _, l := range links {
		h.Add("Link", l)
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// start runs the session's participant until the session ends, then
// calls release.
func (s *Server) start(sess *session, r *http.Request, remote string, release func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	mode := client.WHIP
	if sess.kind == Playback {
		mode = client.WHEP
	}
	c := client.NewMode(s.env, sess, remote, r.Host, mode)
	s.sessions[sess.id] = sess
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer release()
		c.Run(s.ctx)
		sess.end()
		s.mu.Lock()
		delete(s.sessions, sess.id)
		s.mu.Unlock()
	}()
	return true
}

// await waits for the participant's answer, collecting the ICE servers of
// joined as Link headers (RFC 9725 section 4.6).
func (s *Server) await(ctx context.Context, sess *session) (string, []string, *signal.Message) {
	timeout := time.NewTimer(answerWait)
	defer timeout.Stop()
	var links []string
	for {
		select {
		case m := <-sess.replies:
			switch m.Type {
			case signal.TypeJoined:
				links = iceLinks(m.ICEServers)
			case signal.TypeAnswer:
				return m.SDP, links, nil
			case signal.TypeError:
				return "", nil, &m
			}
		case <-sess.done:
			m := signal.ErrorMessage(signal.Errorf(signal.CodeShuttingDown, "The session ended before it was answered."))
			return "", nil, &m
		case <-timeout.C:
			m := signal.ErrorMessage(signal.Errorf(signal.CodeInternal, "No answer came in time."))
			return "", nil, &m
		case <-ctx.Done():
			m := signal.ErrorMessage(signal.Errorf(signal.CodeInternal, "The request was cancelled."))
			return "", nil, &m
		}
	}
}

// refuse turns the participant's error into an HTTP status.
func (s *Server) refuse(w http.ResponseWriter, kind string, m *signal.Message) {
	status := http.StatusInternalServerError
	switch m.Code {
	case signal.CodeAuthRequired:
		w.Header().Set("WWW-Authenticate", `Bearer realm="meetd"`)
		status = http.StatusUnauthorized
	case signal.CodeBadCredentials, signal.CodeNotAllowed:
		status = http.StatusForbidden
	case signal.CodeAlreadyLive:
		status = http.StatusConflict
	case signal.CodeBadSDP, signal.CodeBadMessage, signal.CodeBadRoom:
		status = http.StatusBadRequest
	case signal.CodeRoomFull, signal.CodeServerFull, signal.CodeShuttingDown:
		status = http.StatusServiceUnavailable
	case signal.CodeRateLimited:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(max(1, m.RetryAfter)))
	case signal.CodeWrongState:
		status = http.StatusConflict
		if kind == Playback {
			// The broadcast is not live: the player may try again.
			w.Header().Set("Retry-After", retryAfter)
			status = http.StatusServiceUnavailable
		}
	}
	level := slog.LevelInfo
	if m.Code == signal.CodeRateLimited {
		// The limit has logged it, a few a second at most.
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "session refused", "kind", kind, "status", status, "code", m.Code, "reason", m.Message)
	fail(w, status, "%s", m.Message)
}

// lookup finds the session a PATCH or DELETE names, and checks that it
// carries the same credentials as the POST did.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, kind string) *session {
	s.mu.Lock()
	sess := s.sessions[r.PathValue("session")]
	s.mu.Unlock()
	// A session that ended is gone, even while its participant is still
	// leaving the room.
	if sess == nil || sess.kind != kind || sess.room != r.PathValue("room") || sess.ended() {
		fail(w, http.StatusNotFound, "There is no such session; it may have ended.")
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(bearer(r)), []byte(sess.bearer)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meetd"`)
		fail(w, http.StatusUnauthorized, "Send the same bearer token as when the session started.")
		return nil
	}
	return sess
}

// trickle adds the client's candidates: PATCH with a trickle ICE fragment.
func (s *Server) trickle(w http.ResponseWriter, r *http.Request, kind string) {
	sess := s.lookup(w, r, kind)
	if sess == nil {
		return
	}
	if !hasType(r, "application/trickle-ice-sdpfrag") {
		fail(w, http.StatusUnsupportedMediaType, "Send candidates as Content-Type application/trickle-ice-sdpfrag.")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	frag, err := parseFragment(body)
	if err != nil {
		fail(w, http.StatusBadRequest, "The fragment could not be read: %v.", err)
		return
	}
	if frag.ufrag != "" && sess.ufrag != "" && frag.ufrag != sess.ufrag {
		fail(w, http.StatusUnprocessableEntity, "ICE restarts are not supported; start a new session.")
		return
	}
	target := signal.TargetPublish
	if kind == Playback {
		target = signal.TargetSubscribe
	}
	for _, c := range frag.candidates {
		if !sess.push(signal.Message{Type: signal.TypeCandidate, Target: target, Candidate: signal.NewCandidate(c)}) {
			fail(w, http.StatusServiceUnavailable, "The session is busy or has ended.")
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// remove ends a session: DELETE.
func (s *Server) remove(w http.ResponseWriter, r *http.Request, kind string) {
	sess := s.lookup(w, r, kind)
	if sess == nil {
		return
	}
	sess.end()
	s.log.Info("session deleted", "kind", kind, "room", sess.room, "session", sess.id)
	w.WriteHeader(http.StatusOK)
}

// offerUfrag parses an offer and returns its ICE username fragment.
func offerUfrag(offer string) (string, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return "", err
	}
	if u, ok := d.Attribute("ice-ufrag"); ok {
		return u, nil
	}
	for _, m := range d.MediaDescriptions {
		if u, ok := m.Attribute("ice-ufrag"); ok {
			return u, nil
		}
	}
	return "", nil
}

// iceLinks are the Link headers that hand a WHIP or WHEP client meetd's
// ICE servers.
func iceLinks(servers []signal.ICEServer) []string {
	var links []string
	for _, srv := range servers {
		for _, u := range srv.URLs {
			l := "<" + u + `>; rel="ice-server"`
			if srv.Username != "" {
				l += fmt.Sprintf(`; username=%q; credential=%q; credential-type="password"`, srv.Username, srv.Credential)
			}
			links = append(links, l)
		}
	}
	return links
}

// newID names a session. The session's URL is as good as a password for
// PATCH and DELETE in open rooms, so it is long and random.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
