package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Auth decides who may see recordings: the operator sees them all, and
// whoever gives a room's stage credential sees that room's.
type Auth struct {
	// Admin reports whether the request is the operator's (from this
	// machine with no proxy in between, or with the admin password).
	Admin func(*http.Request) bool
	// Room checks a credential of the stage of the room of that kind and
	// name (a password or token); nil when no room has one.
	Room func(r *http.Request, kind, room, password, token string) error
}

// Recording is a recording as the API gives it (docs/protocol.md).
type Recording struct {
	ID           string      `json:"id"`
	Room         string      `json:"room"`
	Kind         string      `json:"kind"`
	Start        int64       `json:"start"`
	End          *int64      `json:"end"`
	Duration     float64     `json:"duration"`
	Size         int64       `json:"size"`
	Participants []string    `json:"participants"`
	State        string      `json:"state"`
	By           string      `json:"by,omitempty"`
	Reason       string      `json:"reason,omitempty"`
	Message      string      `json:"message,omitempty"`
	Combined     Combined    `json:"combined"`
	Tracks       []TrackFile `json:"tracks"`
	Chat         *[]ChatLine `json:"chat,omitempty"`
}

// Combined is the state of a recording's combined file.
type Combined struct {
	State    string  `json:"state"`
	Progress float64 `json:"progress"`
	Size     int64   `json:"size"`
	Error    string  `json:"error,omitempty"`
}

// Register adds the recordings API to mux.
func (r *Recorder) Register(mux *http.ServeMux, auth Auth) {
	h := &handler{r: r, auth: auth, passes: newPassKeys()}
	mux.HandleFunc("GET /api/recordings", h.list)
	mux.HandleFunc("GET /api/recordings/{id}", h.get)
	mux.HandleFunc("DELETE /api/recordings/{id}", h.delete)
	mux.HandleFunc("GET /recordings/{id}/files/{file}", h.file)
	mux.HandleFunc("GET /recordings/{id}/combined", h.combined)
}

type handler struct {
	r      *Recorder
	auth   Auth
	passes *passKeys
}

// credential is the room credential a request gives: the X-Meetd-Room,
// X-Meetd-Password and X-Meetd-Token headers, or the room, password and
// token query parameters (for links a page cannot add headers to).
func credential(req *http.Request) (room, password, token string) {
	q := req.URL.Query()
	get := func(header, param string) string {
		if v := req.Header.Get(header); v != "" {
			return v
		}
		return q.Get(param)
	}
	return get("X-Meetd-Room", "room"), get("X-Meetd-Password", "password"), get("X-Meetd-Token", "token")
}

// access is which recordings the request may see: all, or those of one
// room; ok is false (and the answer sent) when it may see none.
type access struct {
	all  bool
	room string
	// kinds are the kinds of room the credential opened.
	kinds []string
}

func (h *handler) access(w http.ResponseWriter, req *http.Request) (access, bool) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if h.auth.Admin != nil && h.auth.Admin(req) {
		return access{all: true}, true
	}
	room, password, token := credential(req)
	if room != "" {
		if kinds := h.passes.check(req, room, time.Now()); kinds != nil {
			return access{room: room, kinds: kinds}, true
		}
	}
	if room != "" && h.auth.Room != nil && (password != "" || token != "") {
		var a access
		var last error
		for _, kind := range []string{"meeting", "broadcast"} {
			if err := h.auth.Room(req, kind, room, password, token); err == nil {
				a.kinds = append(a.kinds, kind)
			} else {
				last = err
			}
		}
		if len(a.kinds) > 0 {
			a.room = room
			h.passes.issue(w, req, room, a.kinds, time.Now())
			return a, true
		}
		h.r.log.Info("refused: recordings with a wrong room credential", "room", room, "remote", req.RemoteAddr, "err", last)
		writeError(w, http.StatusUnauthorized, fmt.Sprintf("That password or token does not open the stage of %q, so not its recordings either.", room))
		return a, false
	}
	// Not Basic: a browser would open its own login box over the web
	// app's sign-in. curl -u sends Basic credentials without a challenge.
	w.Header().Set("WWW-Authenticate", `Meetd realm="meetd recordings"`)
	h.r.log.Info("refused: recordings without a credential", "remote", req.RemoteAddr)
	writeError(w, http.StatusUnauthorized, "Recordings are for the operator (on the server's machine, or with the admin password, user admin) "+
		"and for a room's stage: give the room and its stage password or token (X-Meetd-Room and X-Meetd-Password or X-Meetd-Token, or ?room=&password=).")
	return access{}, false
}

func (a access) allows(m *Manifest) bool {
	return a.all || (m.Room == a.room && slices.Contains(a.kinds, m.Kind))
}

func writeError(w http.ResponseWriter, status int, words string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": words})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// Disk is what the recordings take and may take.
type Disk struct {
	Free int64 `json:"free"`
	Used int64 `json:"used"`
	Cap  int64 `json:"cap"`
}

func (h *handler) list(w http.ResponseWriter, req *http.Request) {
	a, ok := h.access(w, req)
	if !ok {
		return
	}
	entries, err := os.ReadDir(h.r.cfg.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		h.r.log.Error("recordings directory unreadable", "err", err)
		writeError(w, http.StatusInternalServerError, "The recordings directory cannot be read.")
		return
	}
	list := []Recording{}
	for _, e := range entries {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		m, err := readManifest(filepath.Join(h.r.cfg.Dir, e.Name()))
		if err != nil || !a.allows(m) {
			continue
		}
		list = append(list, h.recording(m))
	}
	slices.SortFunc(list, func(x, y Recording) int {
		switch {
		case x.Start > y.Start:
			return -1
		case x.Start < y.Start:
			return 1
		}
		return 0
	})
	free, _ := freeBytes(h.r.cfg.Dir)
	writeJSON(w, map[string]any{
		"recordings": list, "ffmpeg": h.r.FFmpeg(),
		"disk": Disk{Free: free, Used: dirBytes(h.r.cfg.Dir), Cap: h.r.cfg.MaxBytes},
	})
}

// recording is m as the API gives it.
func (h *handler) recording(m *Manifest) Recording {
	rec := Recording{ID: m.ID, Room: m.Room, Kind: m.Kind, Start: m.Start, End: m.End, By: m.By,
		Reason: m.Reason, Message: m.Message, Duration: duration(m), Participants: []string{}, State: "done",
		Tracks: m.Files}
	if rec.Tracks == nil {
		rec.Tracks = []TrackFile{}
	}
	if h.r.active(m.ID) != nil {
		rec.State, rec.End = "recording", nil
		rec.Duration = float64(time.Now().UnixMilli()-m.Start) / 1000
	}
	for _, f := range m.Files {
		rec.Size += f.Size
		if !slices.Contains(rec.Participants, f.Participant) {
			rec.Participants = append(rec.Participants, f.Participant)
		}
	}
	if rec.State == "recording" {
		rec.Combined.State = combinedWaiting
		if !h.r.FFmpeg() {
			rec.Combined.State = combinedUnavailable
		}
		return rec
	}
	rec.Combined.State, rec.Combined.Progress, rec.Combined.Error = h.r.combiner.status(m.ID)
	if rec.Combined.State == combinedReady {
		if st, err := os.Stat(filepath.Join(h.r.cfg.Dir, m.ID, CombinedName)); err == nil {
			rec.Combined.Size = st.Size()
		}
	}
	return rec
}

// manifest reads the recording the request names, or answers why not.
func (h *handler) manifest(w http.ResponseWriter, req *http.Request) (*Manifest, bool) {
	a, ok := h.access(w, req)
	if !ok {
		return nil, false
	}
	id := req.PathValue("id")
	if !ValidID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a recording id (they look like 20260102-150405-a1b2c3).", id))
		return nil, false
	}
	m, err := readManifest(filepath.Join(h.r.cfg.Dir, id))
	if err != nil || !a.allows(m) {
		// A recording of another room is as missing as one that never was.
		writeError(w, http.StatusNotFound, fmt.Sprintf("There is no recording %q.", id))
		return nil, false
	}
	return m, true
}

func (h *handler) get(w http.ResponseWriter, req *http.Request) {
	m, ok := h.manifest(w, req)
	if !ok {
		return
	}
	rec := h.recording(m)
	rec.Chat = &m.Chat
	if m.Chat == nil {
		rec.Chat = &[]ChatLine{}
	}
	writeJSON(w, rec)
}

func (h *handler) delete(w http.ResponseWriter, req *http.Request) {
	m, ok := h.manifest(w, req)
	if !ok {
		return
	}
	if h.r.active(m.ID) != nil {
		writeError(w, http.StatusConflict, "This recording is still running: stop it first (the host's Stop recording), then delete it.")
		return
	}
	if st, _, _ := h.r.combiner.status(m.ID); st == combinedMaking {
		writeError(w, http.StatusConflict, "The combined file of this recording is being made: delete it once it is ready.")
		return
	}
	if err := os.RemoveAll(filepath.Join(h.r.cfg.Dir, m.ID)); err != nil {
		h.r.log.Error("recording not deleted", "recording", m.ID, "err", err)
		writeError(w, http.StatusInternalServerError, "The recording could not be deleted.")
		return
	}
	h.r.log.Info("recording deleted", "recording", m.ID, "remote", req.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

// file serves one track's file; only a file the manifest lists is served,
// so no name reaches outside the recording's directory.
func (h *handler) file(w http.ResponseWriter, req *http.Request) {
	m, ok := h.manifest(w, req)
	if !ok {
		return
	}
	name := req.PathValue("file")
	if !slices.ContainsFunc(m.Files, func(f TrackFile) bool { return f.File == name }) || filepath.Base(name) != name {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Recording %q has no file %q.", m.ID, name))
		return
	}
	h.serve(w, req, filepath.Join(h.r.cfg.Dir, m.ID, name), m.Room+"-"+m.ID+"-"+name)
}

func (h *handler) combined(w http.ResponseWriter, req *http.Request) {
	m, ok := h.manifest(w, req)
	if !ok {
		return
	}
	path := filepath.Join(h.r.cfg.Dir, m.ID, CombinedName)
	if _, err := os.Stat(path); err != nil {
		st, _, words := h.r.combiner.status(m.ID)
		if h.r.active(m.ID) != nil {
			st, words = "recording", "it is made once the recording stops"
		}
		if words == "" {
			words = "it is being made"
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("The combined file of %q is not there (%s): %s.", m.ID, st, words))
		return
	}
	h.serve(w, req, path, m.Room+"-"+m.ID+filepath.Ext(CombinedName))
}

// serve sends a file with Range support, as a download named download.
func (h *handler) serve(w http.ResponseWriter, req *http.Request, path, download string) {
	f, err := os.Open(path)
	if err != nil {
		writeError(w, http.StatusNotFound, "That file is gone.")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "That file cannot be read.")
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", download))
	switch filepath.Ext(path) {
	case ".webm":
		w.Header().Set("Content-Type", "video/webm")
	case ".mkv":
		w.Header().Set("Content-Type", "video/x-matroska")
	case ".mp4":
		w.Header().Set("Content-Type", "video/mp4")
	}
	http.ServeContent(w, req, "", st.ModTime(), f)
}
