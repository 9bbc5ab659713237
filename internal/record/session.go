package record

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
)

// Why a recording stopped, as the wire protocol says it.
const (
	reasonStopped  = "stopped"
	reasonDiskFull = "disk_full"
	reasonEnded    = "ended"
	reasonError    = "error"
)

// checkEvery is how often a recording checks the disk and rewrites its
// manifest.
const checkEvery = 2 * time.Second

// Session is one recording of one room. Its goroutine (run) owns the
// track writers and the manifest; the room tells it of changes (Notify).
type Session struct {
	rec   *Recorder
	room  *room.Room
	id    string
	dir   string
	start time.Time
	by    string
	log   *slog.Logger

	notified chan struct{}
	stopOnce sync.Once
	stopped  chan struct{}
	// reason and message are set once, before stopped closes.
	reason, message string

	// The goroutine's own.
	writers  map[*sfu.Track]*sessionTrack
	files    []*sessionTrack
	manifest Manifest
	chatSeq  uint64
	wasLive  bool
	// count numbers the files of each participant and kind.
	count map[string]int
}

// sessionTrack is one file of the recording.
type sessionTrack struct {
	w     *trackWriter
	track *sfu.Track
	entry TrackFile
	// publisher is the participant's id, whose screen share stream tells
	// a screen from a camera.
	publisher string
}

func newSession(r *Recorder, rm *room.Room, by string) (*Session, error) {
	start := time.Now()
	s := &Session{
		rec: r, room: rm, id: newID(start), start: start, by: by,
		notified: make(chan struct{}, 1), stopped: make(chan struct{}),
		writers: map[*sfu.Track]*sessionTrack{}, count: map[string]int{},
	}
	s.dir = filepath.Join(r.cfg.Dir, s.id)
	s.log = r.log.With("recording", s.id, "room", rm.Name())
	s.manifest = Manifest{ID: s.id, Room: rm.Name(), Kind: rm.Kind().String(), Start: start.UnixMilli(), By: by,
		Files: []TrackFile{}, Chat: []ChatLine{}}
	if err := os.Mkdir(s.dir, 0o755); err != nil {
		return nil, err
	}
	if err := s.writeManifest(); err != nil {
		return nil, err
	}
	// History before the start is not part of the recording.
	if msgs := rm.ChatSince(0); len(msgs) > 0 {
		s.chatSeq = msgs[len(msgs)-1].Seq
	}
	s.wasLive = rm.Snapshot().Live
	rm.SetRecording(room.Recording{ID: s.id, Since: start, By: by})
	s.log.Info("recording started", "by", by)
	return s, nil
}

// Notify implements room.Watcher.
func (s *Session) Notify() {
	select {
	case s.notified <- struct{}{}:
	default:
	}
}

// Stop ends the recording, for reason; the first reason given wins.
func (s *Session) Stop(reason, message string) {
	s.stopOnce.Do(func() {
		s.reason, s.message = reason, message
		close(s.stopped)
	})
}

func (s *Session) run() {
	s.room.Watch(s)
	defer s.room.Unwatch(s)
	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.notified:
			s.sync()
		case <-tick.C:
			s.check()
		case <-s.room.Done():
			s.Stop(reasonEnded, "The room ended.")
		case <-s.stopped:
		}
		select {
		case <-s.stopped:
			s.finish()
			return
		default:
		}
	}
}

// sync follows the room: a writer for each track on stage, closed when
// the track goes; the chat; the end of a broadcast.
func (s *Session) sync() {
	snap := s.room.Snapshot()
	names := map[string]room.Participant{}
	for _, p := range snap.Participants {
		names[p.ID] = p
	}
	now := map[*sfu.Track]bool{}
	for _, p := range snap.Tracks {
		t, ok := p.Track.(*sfu.Track)
		if !ok {
			continue
		}
		now[t] = true
		if st := s.writers[t]; st != nil {
			// A screen share may be announced after its track arrives, and
			// unannounced before it goes: once a screen, always one.
			if kindOf(t, names[p.Publisher]) == "screen" {
				st.entry.Kind = "screen"
			}
			continue
		}
		s.addTrack(t, p.Publisher, names[p.Publisher])
	}
	for t, st := range s.writers {
		if !now[t] {
			s.removeTrack(t, st)
		}
	}
	for _, m := range s.room.ChatSince(s.chatSeq) {
		s.chatSeq = m.Seq
		s.manifest.Chat = append(s.manifest.Chat, ChatLine{Time: seconds(m.Time.Sub(s.start)), Name: m.Name, Text: m.Text})
	}
	stage := false
	for _, p := range snap.Participants {
		stage = stage || p.Role == room.Stage
	}
	if snap.Live {
		s.wasLive = true
	} else if (s.wasLive || !stage) && (snap.Kind == room.Broadcast || s.rec.Auto(snap.Kind, snap.Name)) {
		// A broadcast that went off (or whose streamer left) takes its
		// recording with it; a meeting's goes on until the room ends or
		// the host stops it.
		s.Stop(reasonEnded, "The broadcast ended.")
	}
}

// kindOf is camera, microphone or screen.
func kindOf(t *sfu.Track, p room.Participant) string {
	switch {
	case t.Kind() == webrtc.RTPCodecTypeAudio:
		return "microphone"
	// The publisher names its screen share's stream; meetd prefixes the
	// streams it forwards with the publisher's id.
	case p.Screen != "" && (t.StreamID() == p.Screen || t.StreamID() == p.ID+"_"+p.Screen):
		return "screen"
	}
	return "camera"
}

func (s *Session) addTrack(t *sfu.Track, publisher string, p room.Participant) {
	c := codecFor(t.Codec().MimeType)
	if c == nil {
		s.log.Warn("track not recorded: codec not supported", "codec", t.Codec().MimeType)
		s.writers[t] = &sessionTrack{track: t}
		return
	}
	kind := kindOf(t, p)
	name := p.Name
	if name == "" {
		name = publisher
	}
	key := fileSafe(name) + "-" + t.Kind().String()
	s.count[key]++
	file := fmt.Sprintf("%s-%d%s", key, s.count[key], c.ext)
	st := &sessionTrack{track: t, publisher: publisher,
		entry: TrackFile{File: file, Participant: name, Kind: kind, Codec: c.Name}}
	st.w = newTrackWriter(c, filepath.Join(s.dir, file), s.start, &s.rec.stats, t.RequestKeyframe, t.SenderClock, s.rec.cfg.JitterBuffer, s.log.With("file", file))
	s.writers[t] = st
	s.files = append(s.files, st)
	t.AddSink(st.w)
	s.log.Info("recording a track", "file", file, "participant", name, "kind", kind, "codec", c.Name)
}

func (s *Session) removeTrack(t *sfu.Track, st *sessionTrack) {
	delete(s.writers, t)
	if st.w == nil {
		return
	}
	t.RemoveSink(st.w)
	st.w.Close()
}

// fileSafe keeps letters and digits of a name, for a file name.
func fileSafe(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() >= 32 {
			break
		}
	}
	if b.Len() == 0 {
		return "participant"
	}
	return b.String()
}

// check stops the recording when the disk runs short or a file cannot be
// written, and keeps the manifest up to date.
func (s *Session) check() {
	if err := s.rec.diskRoom(); err != nil {
		s.log.Warn("recording stopped: no room on the disk", "err", err)
		s.Stop(reasonDiskFull, "Recording stopped: "+err.Error()+".")
		return
	}
	for _, st := range s.files {
		if st.w == nil {
			continue
		}
		if _, _, _, err := st.w.info(); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				s.Stop(reasonDiskFull, "Recording stopped: the disk is full.")
			} else {
				s.Stop(reasonError, "Recording stopped: a file could not be written.")
			}
			return
		}
	}
	if err := s.writeManifest(); err != nil {
		s.log.Warn("manifest not written", "err", err)
	}
}

// finish closes every file, writes the final manifest and tells the room.
func (s *Session) finish() {
	for t, st := range s.writers {
		s.removeTrack(t, st)
	}
	end := time.Now().UnixMilli()
	s.manifest.End = &end
	s.manifest.Reason, s.manifest.Message = s.reason, s.message
	if err := s.writeManifest(); err != nil {
		s.log.Error("manifest not written", "err", err)
	}
	// Done before the room is told: whoever hears that it stopped and
	// lists the recordings then finds it done.
	s.rec.forget(s)
	s.room.EndRecording(room.RecordingEnd{ID: s.id, Reason: s.reason, Message: s.message})
	s.log.Info("recording stopped", "reason", s.reason, "files", len(s.manifest.Files))
}

func (s *Session) writeManifest() error {
	// A file is placed on the timeline by when its first frame was taken,
	// by its publisher's clock, once sender reports tell it, so that a
	// microphone whose packets come later than the camera's still lines
	// up with it. The publisher's clock is read on meetd's by the least
	// delay seen on any of its streams. Before any report, a file starts
	// when its first packet came.
	delay := map[string]time.Duration{}
	for _, st := range s.files {
		if _, d, ok := st.w.sender(); ok {
			if old, seen := delay[st.publisher]; !seen || d < old {
				delay[st.publisher] = d
			}
		}
	}
	s.manifest.Files = s.manifest.Files[:0]
	for _, st := range s.files {
		first, duration, size, _ := st.w.info()
		if first.IsZero() {
			continue // nothing written yet: no file
		}
		if sent, _, ok := st.w.sender(); ok {
			first = sent.Add(delay[st.publisher])
		}
		e := st.entry
		e.Offset, e.Duration, e.Size = seconds(first.Sub(s.start)), duration, size
		s.manifest.Files = append(s.manifest.Files, e)
	}
	s.manifest.Updated = time.Now().UnixMilli()
	return writeManifest(s.dir, &s.manifest)
}

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }
