package record

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Combined file states, as the recordings API says them.
const (
	combinedWaiting     = "waiting"
	combinedMaking      = "making"
	combinedReady       = "ready"
	combinedFailed      = "failed"
	combinedUnavailable = "unavailable"
)

// The combined file, and the words of its failure.
const (
	CombinedName  = "combined.mp4"
	combinedError = "combined.error"
)

// Canvas of the combined file.
const (
	canvasW, canvasH = 1280, 720
)

// combiner makes combined files with ffmpeg, one at a time, in the
// background: a recording's per-track files are its source of truth, and
// the combined file is a convenience made after it stops.
type combiner struct {
	r      *Recorder
	ctx    context.Context
	cancel context.CancelFunc
	jobs   chan string

	// mu protects state.
	mu    sync.Mutex
	state map[string]*combineState
}

type combineState struct {
	state    string
	progress float64
}

func newCombiner(r *Recorder) *combiner {
	ctx, cancel := context.WithCancel(context.Background())
	c := &combiner{r: r, ctx: ctx, cancel: cancel, jobs: make(chan string, 256), state: map[string]*combineState{}}
	if r.cfg.FFmpeg != "" {
		r.wg.Add(1)
		go c.run()
	}
	return c
}

// queue asks for the combined file of recording id.
func (c *combiner) queue(id string) {
	if c.r.cfg.FFmpeg == "" {
		return
	}
	c.mu.Lock()
	c.state[id] = &combineState{state: combinedWaiting}
	c.mu.Unlock()
	select {
	case c.jobs <- id:
	default:
		c.r.log.Warn("too many combined files waiting; this one is not made", "recording", id)
		c.set(id, combinedFailed, 0)
		_ = os.WriteFile(filepath.Join(c.r.cfg.Dir, id, combinedError), []byte("too many recordings were waiting to be combined"), 0o644)
	}
}

func (c *combiner) close() { c.cancel() }

func (c *combiner) set(id, state string, progress float64) {
	c.mu.Lock()
	c.state[id] = &combineState{state: state, progress: progress}
	c.mu.Unlock()
}

// status is the combined file's state and progress, and the words of a
// failure.
func (c *combiner) status(id string) (state string, progress float64, errText string) {
	dir := filepath.Join(c.r.cfg.Dir, id)
	if _, err := os.Stat(filepath.Join(dir, CombinedName)); err == nil {
		return combinedReady, 1, ""
	}
	if b, err := os.ReadFile(filepath.Join(dir, combinedError)); err == nil {
		return combinedFailed, 0, string(b)
	}
	if c.r.cfg.FFmpeg == "" {
		return combinedUnavailable, 0, "ffmpeg is not installed on the server: per-track files only"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.state[id]; st != nil {
		return st.state, st.progress, ""
	}
	return combinedWaiting, 0, ""
}

func (c *combiner) run() {
	defer c.r.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case id := <-c.jobs:
			c.make(id)
		}
	}
}

func (c *combiner) make(id string) {
	dir := filepath.Join(c.r.cfg.Dir, id)
	m, err := readManifest(dir)
	if err != nil {
		c.set(id, combinedFailed, 0)
		return
	}
	c.set(id, combinedMaking, 0)
	log := c.r.log.With("recording", id)
	started := time.Now()
	err = c.ffmpeg(dir, m, func(p float64) { c.set(id, combinedMaking, p) })
	if errors.Is(c.ctx.Err(), context.Canceled) {
		c.set(id, combinedWaiting, 0) // made at the next start
		return
	}
	if err != nil {
		log.Warn("combined file not made", "err", err)
		_ = os.WriteFile(filepath.Join(dir, combinedError), []byte(err.Error()), 0o644)
		c.set(id, combinedFailed, 0)
		return
	}
	log.Info("combined file made", "took", time.Since(started).Round(time.Millisecond))
	c.set(id, combinedReady, 1)
}

// duration is the recording's length in seconds.
func duration(m *Manifest) float64 {
	d := 0.0
	if m.End != nil {
		d = float64(*m.End-m.Start) / 1000
	}
	for _, f := range m.Files {
		d = math.Max(d, f.Offset+f.Duration)
	}
	return d
}

// ffmpeg makes the combined file: the cameras in a grid on a 1280×720
// canvas (a screen share large, the cameras in a column beside it), each
// file at its place on the timeline, all audio mixed.
func (c *combiner) ffmpeg(dir string, m *Manifest, progress func(float64)) error {
	d := duration(m)
	if d <= 0 || len(m.Files) == 0 {
		return errors.New("the recording holds no media")
	}
	args := []string{"-hide_banner", "-nostdin", "-v", "error", "-y"}
	for _, f := range m.Files {
		args = append(args, "-i", filepath.Join(dir, f.File))
	}
	filter := buildFilter(m.Files, d)
	args = append(args, "-filter_complex", filter.graph, "-map", "[vout]")
	if filter.audio {
		args = append(args, "-map", "[aout]", "-c:a", "aac", "-b:a", "128k")
	}
	part := filepath.Join(dir, CombinedName+".part")
	args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p", "-r", "30",
		"-t", strconv.FormatFloat(d, 'f', 3, 64), "-movflags", "+faststart", "-progress", "pipe:1", "-f", "mp4", part)
	cmd := exec.CommandContext(c.ctx, c.r.cfg.FFmpeg, args...)
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{b: &stderr, left: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ffmpeg did not start: %w", err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "out_time_us="); ok {
			if us, err := strconv.ParseFloat(v, 64); err == nil {
				progress(math.Min(math.Max(us/1e6/d, 0), 0.99))
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		_ = os.Remove(part)
		return fmt.Errorf("ffmpeg: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return os.Rename(part, filepath.Join(dir, CombinedName))
}

type limitedWriter struct {
	b    *strings.Builder
	left int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.left)
	w.b.Write(p[:n])
	w.left -= n
	return len(p), nil
}

type rect struct{ x, y, w, h int }

// layout places the video slots: one per participant's camera, and the
// screen share large when there is one.
func layout(cameras int, screen bool) (cams []rect, scr rect) {
	if screen {
		scr = rect{0, 0, 960, canvasH}
		n := max(cameras, 1)
		h := min(canvasH/n, 180) &^ 1
		for i := range cameras {
			cams = append(cams, rect{960, i * h, 320, h})
		}
		return cams, scr
	}
	cols := int(math.Ceil(math.Sqrt(float64(max(cameras, 1)))))
	rows := (max(cameras, 1) + cols - 1) / cols
	w, h := (canvasW/cols)&^1, (canvasH/rows)&^1
	for i := range cameras {
		cams = append(cams, rect{(i % cols) * w, (i / cols) * h, w, h})
	}
	return cams, scr
}

type filterGraph struct {
	graph string
	audio bool
}

// buildFilter is ffmpeg's filter graph for the files of a recording of d
// seconds.
func buildFilter(files []TrackFile, d float64) filterGraph {
	slot := map[string]int{}
	screen := false
	for _, f := range files {
		switch f.Kind {
		case "camera":
			if _, ok := slot[f.Participant]; !ok {
				slot[f.Participant] = len(slot)
			}
		case "screen":
			screen = true
		}
	}
	cams, scr := layout(len(slot), screen)
	var g []string
	g = append(g, fmt.Sprintf("color=c=black:s=%dx%d:r=30:d=%.3f[base]", canvasW, canvasH, d))
	last := "base"
	var audio []string
	for i, f := range files {
		off := strconv.FormatFloat(f.Offset, 'f', 3, 64)
		end := strconv.FormatFloat(f.Offset+f.Duration+0.1, 'f', 3, 64)
		switch f.Kind {
		case "microphone":
			// A file placed before the start (by its sender's clock: its
			// first packets were on the way when the recording started)
			// loses what falls before it.
			place := fmt.Sprintf("adelay=%d:all=1", int64(math.Round(f.Offset*1000)))
			if f.Offset < 0 {
				place = fmt.Sprintf("atrim=start=%.3f,asetpts=PTS-STARTPTS", -f.Offset)
			}
			g = append(g, fmt.Sprintf("[%d:a]aresample=48000:async=1:min_hard_comp=0.01:first_pts=0,%s[a%d]", i, place, i))
			audio = append(audio, fmt.Sprintf("[a%d]", i))
		case "camera", "screen":
			r := scr
			if f.Kind == "camera" {
				r = cams[slot[f.Participant]]
			}
			place := "setpts=PTS-STARTPTS+" + off + "/TB"
			if f.Offset < 0 {
				place = fmt.Sprintf("trim=start=%.3f,setpts=PTS-STARTPTS", -f.Offset)
				off = "0"
			}
			g = append(g, fmt.Sprintf("[%d:v]%s,scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/2[v%d]",
				i, place, r.w, r.h, r.w, r.h, i))
			g = append(g, fmt.Sprintf("[%s][v%d]overlay=%d:%d:eof_action=pass:enable='between(t,%s,%s)'[o%d]", last, i, r.x, r.y, off, end, i))
			last = fmt.Sprintf("o%d", i)
		}
	}
	g = append(g, fmt.Sprintf("[%s]null[vout]", last))
	fg := filterGraph{audio: len(audio) > 0}
	if len(audio) > 0 {
		g = append(g, fmt.Sprintf("%samix=inputs=%d:duration=longest:normalize=0,apad,atrim=0:%.3f[aout]", strings.Join(audio, ""), len(audio), d))
	}
	fg.graph = strings.Join(g, ";")
	return fg
}

// recover closes the manifests of recordings a crash cut (their end is
// the last write) and queues their combined files, and those whose making
// a stop cut short.
func (r *Recorder) recover() {
	entries, err := os.ReadDir(r.cfg.Dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		dir := filepath.Join(r.cfg.Dir, e.Name())
		m, err := readManifest(dir)
		if err != nil {
			continue
		}
		if m.End == nil {
			end := m.Updated
			m.End, m.Reason, m.Message = &end, reasonError, "The server stopped during the recording."
			if err := writeManifest(dir, m); err != nil {
				continue
			}
			r.log.Info("recording cut by a crash closed", "recording", m.ID)
		}
		if st, _, _ := r.combiner.status(m.ID); st == combinedWaiting {
			r.combiner.queue(m.ID)
		}
	}
}
