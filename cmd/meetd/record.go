package main

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/record"
)

// RecordConfig is where and how much meetd records.
type RecordConfig struct {
	Enabled bool
	Dir     string
	// MaxBytes caps the recordings together (0: none); MinFree is the
	// free space left on the disk.
	MaxBytes, MinFree int64
	// FFmpeg is the program that makes combined files: empty looks it up
	// on PATH, "none" makes none.
	FFmpeg string
	// JitterBuffer is the track writers' jitter buffer.
	JitterBuffer record.JitterBuffer
}

// parseBytes reads a size: bytes, or with a K, M, G or T suffix (powers
// of 1024; a trailing B or iB is allowed).
func parseBytes(s string) (int64, error) {
	v := strings.ToUpper(strings.TrimSpace(s))
	v = strings.TrimSuffix(strings.TrimSuffix(v, "B"), "I")
	mult := int64(1)
	if n := len(v); n > 0 {
		if i := strings.IndexByte("KMGT", v[n-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			v = v[:n-1]
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<62 {
		return 0, errors.New("want a size such as 0, 500M or 20G")
	}
	return int64(f * float64(mult)), nil
}

// startRecorder makes the recorder, when recording is on.
func (m *Main) startRecorder(policy *access.Policy) (*record.Recorder, error) {
	c := m.Config.Record
	if !c.Enabled {
		return nil, nil
	}
	ffmpeg := ""
	switch c.FFmpeg {
	case "none":
	case "":
		if p, err := exec.LookPath("ffmpeg"); err == nil {
			ffmpeg = p
		} else {
			m.log.Info("ffmpeg not found on PATH: recordings get per-track files, no combined file")
		}
	default:
		p, err := exec.LookPath(c.FFmpeg)
		if err != nil {
			return nil, fmt.Errorf("-ffmpeg %q: %w", c.FFmpeg, err)
		}
		ffmpeg = p
	}
	var auto func(kind, name string) bool
	if policy != nil {
		auto = policy.Records
	}
	return record.New(record.Config{Dir: c.Dir, MaxBytes: c.MaxBytes, MinFree: c.MinFree, FFmpeg: ffmpeg,
		JitterBuffer: c.JitterBuffer, Auto: auto, Log: m.log})
}
