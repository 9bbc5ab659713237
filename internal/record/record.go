// Package record records rooms as their media arrives, in pure Go: each
// published track goes to a WebM (or, for H.264, Matroska) file of its
// own, written packet by packet from a bounded queue so that recording
// never slows the call, with a manifest.json that places the files and
// the chat on the recording's timeline. Once a recording stops, ffmpeg (when
// there is one) makes one combined file from it in the background. The
// recordings are served over HTTP (http.go).
package record

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meetd/meetd/internal/room"
)

// Config is where and how much meetd records.
type Config struct {
	// Dir holds one directory per recording.
	Dir string
	// MaxBytes caps what the recordings take together; 0 for no cap.
	MaxBytes int64
	// MinFree is the free space on Dir's disk below which recording does
	// not start, and stops.
	MinFree int64
	// JitterBuffer is the jitter buffer of the track writers; "" is
	// SampleBuilder.
	JitterBuffer JitterBuffer
	// FFmpeg is the ffmpeg program that makes combined files; empty for
	// none: per-track files only.
	FFmpeg string
	// Auto says whether the rooms file has a room recorded whenever it is
	// live; nil for none.
	Auto func(kind, name string) bool
	Log  *slog.Logger
}

// Stats count what recordings did, for /metrics.
type Stats struct {
	// Dropped counts packets a writer's full queue refused; Lost, packets
	// the jitter buffer gave up on; Bytes, media bytes written.
	Dropped, Lost, Bytes atomic.Uint64
	// Started and Stopped count recordings.
	Started, Stopped atomic.Uint64
}

// Errors of Start.
var (
	ErrClosed = errors.New("the server is shutting down")
)

// Recorder records the rooms it is asked to. It implements client.Recorder.
type Recorder struct {
	cfg   Config
	log   *slog.Logger
	stats Stats

	// mu protects sessions and closed.
	mu       sync.Mutex
	sessions map[*room.Room]*Session
	closed   bool
	// wg counts sessions and combining jobs running.
	wg sync.WaitGroup

	combiner *combiner
}

// New makes a recorder that keeps recordings in cfg.Dir, made if needed.
// Recordings a crash left unfinished are closed and queued for combining.
func New(cfg Config) (*Recorder, error) {
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	r := &Recorder{cfg: cfg, log: cfg.Log.With("part", "record"), sessions: map[*room.Room]*Session{}}
	r.combiner = newCombiner(r)
	r.recover()
	return r, nil
}

// Auto implements client.Recorder.
func (r *Recorder) Auto(kind room.Kind, name string) bool {
	return r.cfg.Auto != nil && r.cfg.Auto(kind.String(), name)
}

// FFmpeg reports whether combined files are made.
func (r *Recorder) FFmpeg() bool { return r.cfg.FFmpeg != "" }

// Start implements client.Recorder.
func (r *Recorder) Start(rm *room.Room, by string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.sessions[rm] != nil {
		return nil
	}
	if err := r.diskRoom(); err != nil {
		r.log.Warn("recording refused", "room", rm.Name(), "err", err)
		return err
	}
	s, err := newSession(r, rm, by)
	if err != nil {
		r.log.Error("recording did not start", "room", rm.Name(), "err", err)
		return errors.New("the recordings directory cannot be written")
	}
	r.sessions[rm] = s
	r.stats.Started.Add(1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		s.run()
		r.forget(s)
		r.stats.Stopped.Add(1)
		r.combiner.queue(s.id)
	}()
	return nil
}

// forget takes s, which has stopped, out of the sessions recording.
func (r *Recorder) forget(s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions[s.room] == s {
		delete(r.sessions, s.room)
	}
}

// Stop implements client.Recorder.
func (r *Recorder) Stop(rm *room.Room) {
	r.mu.Lock()
	s := r.sessions[rm]
	r.mu.Unlock()
	if s != nil {
		s.Stop(reasonStopped, "The host stopped the recording.")
	}
}

// active is the session recording id, nil for none.
func (r *Recorder) active(id string) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sessions {
		if s.id == id {
			return s
		}
	}
	return nil
}

// Close stops every recording, closing its files, and waits for them and
// for the combined file being made (which it cuts short).
func (r *Recorder) Close() {
	r.mu.Lock()
	r.closed = true
	sessions := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		sessions = append(sessions, s)
	}
	r.mu.Unlock()
	for _, s := range sessions {
		s.Stop(reasonEnded, "The server is shutting down.")
	}
	r.combiner.close()
	r.wg.Wait()
}

// diskRoom says in words why a recording may not start or go on: the
// disk below the free-space floor, or the recordings at their cap.
func (r *Recorder) diskRoom() error {
	free, err := freeBytes(r.cfg.Dir)
	if err == nil && free < r.cfg.MinFree {
		return fmt.Errorf("the disk has %s free, below the %s this server keeps free (-record-min-free)", size(free), size(r.cfg.MinFree))
	}
	if r.cfg.MaxBytes > 0 {
		if used := dirBytes(r.cfg.Dir); used >= r.cfg.MaxBytes {
			return fmt.Errorf("the recordings take %s, this server's cap (-record-max-bytes is %s); delete some", size(used), size(r.cfg.MaxBytes))
		}
	}
	return nil
}

// freeBytes is the space left to an unprivileged user on dir's disk.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// dirBytes is what the files under dir take.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// size writes a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// newID names a recording: its start, sortable, and a random part.
func newID(t time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(r, ch) }

var (
	droppedDesc = prometheus.NewDesc("meetd_record_dropped_packets_total",
		"Packets a recording dropped because its writer's queue was full (a slow disk): the call never waits for a recording.", nil, nil)
	lostDesc = prometheus.NewDesc("meetd_record_lost_packets_total",
		"Packets a recording's jitter buffer gave up on (lost or too late); video then waits for a keyframe.", nil, nil)
	bytesDesc  = prometheus.NewDesc("meetd_record_bytes_total", "Media bytes written to recordings.", nil, nil)
	activeDesc = prometheus.NewDesc("meetd_recordings_active", "Recordings in progress.", nil, nil)
	startDesc  = prometheus.NewDesc("meetd_recordings_started_total", "Recordings started.", nil, nil)
)

// Collect implements prometheus.Collector.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	active := len(r.sessions)
	r.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(r.stats.Dropped.Load()))
	ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.CounterValue, float64(r.stats.Lost.Load()))
	ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.CounterValue, float64(r.stats.Bytes.Load()))
	ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(active))
	ch <- prometheus.MustNewConstMetric(startDesc, prometheus.CounterValue, float64(r.stats.Started.Load()))
}
