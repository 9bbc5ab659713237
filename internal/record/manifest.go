package record

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
)

// ManifestName is the file in each recording's directory that describes it.
const ManifestName = "manifest.json"

// Manifest describes one recording: it is written when the recording
// starts, every few seconds while it runs (so that a recording cut by a
// crash still says what it holds), and when it stops.
type Manifest struct {
	ID   string `json:"id"`
	Room string `json:"room"`
	// Kind is the room's: meeting or broadcast.
	Kind string `json:"kind"`
	// Start and End are unix milliseconds; End is nil while recording,
	// and after a crash.
	Start int64  `json:"start"`
	End   *int64 `json:"end"`
	// By is who started it, empty for a room the rooms file records.
	By string `json:"by,omitempty"`
	// Reason is why it stopped (see docs/protocol.md), with words.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Updated is when the manifest was last written (unix ms).
	Updated int64       `json:"updated"`
	Files   []TrackFile `json:"files"`
	Chat    []ChatLine  `json:"chat"`
}

// TrackFile is one file: one appearance of one track.
type TrackFile struct {
	File        string `json:"file"`
	Participant string `json:"participant"`
	// Kind is camera, microphone or screen.
	Kind  string `json:"kind"`
	Codec string `json:"codec"`
	// Offset is where the file starts on the recording's timeline, and
	// Duration how long it lasts, in seconds.
	Offset   float64 `json:"offset"`
	Duration float64 `json:"duration"`
	Size     int64   `json:"size"`
}

// ChatLine is one chat message, at its time on the recording's timeline
// (seconds).
type ChatLine struct {
	Time float64 `json:"time"`
	Name string  `json:"name"`
	Text string  `json:"text"`
}

// validID matches the ids meetd gives recordings (see newID): nothing
// else names a directory under the recordings directory.
var validID = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$`)

// ValidID reports whether id may name a recording.
func ValidID(id string) bool { return validID.MatchString(id) }

// writeManifest writes m into dir, atomically: a reader never sees half.
func writeManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestName+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ManifestName))
}

func readManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}
