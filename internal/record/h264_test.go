package record

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
)

// TestWriterH264 packetizes an H.264 clip that ffmpeg makes, as a
// publisher would send it, and checks that the Matroska file written
// from it plays: ffprobe finds H.264 of the right size and length, and it
// decodes without an error.
func TestWriterH264(t *testing.T) {
	ffmpeg, err1 := exec.LookPath("ffmpeg")
	ffprobe, err2 := exec.LookPath("ffprobe")
	if err := errors.Join(err1, err2); err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("needs ffmpeg and ffprobe (scripts/ensure-ffmpeg.sh): %v", err)
		}
		t.Skipf("needs ffmpeg and ffprobe: %v", err)
	}
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.h264")
	out, err := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=s=320x180:r=30:d=2",
		"-c:v", "libx264", "-profile:v", "baseline", "-x264-params", "slices=1:threads=1:keyint=30",
		"-pix_fmt", "yuv420p", "-bsf:v", "h264_mp4toannexb", "-f", "h264", clip).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	f, err := os.Open(clip)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := h264reader.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	// Access units: the NAL units up to and with each picture's slice.
	var frames [][]byte
	var au bytes.Buffer
	for {
		nal, err := r.NextNAL()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		au.Write([]byte{0, 0, 0, 1})
		au.Write(nal.Data)
		if nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr || nal.UnitType == h264reader.NalUnitTypeCodedSliceNonIdr {
			frames = append(frames, bytes.Clone(au.Bytes()))
			au.Reset()
		}
	}
	if len(frames) != 60 {
		t.Fatalf("%d frames in the clip, want 60", len(frames))
	}
	var kf atomic.Int32
	w, path, _ := newTestWriter(t, SampleBuilder, "video/h264", &kf)
	p := rtp.NewPacketizer(1200, 102, 5, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	for _, fr := range frames {
		for _, pkt := range p.Packetize(fr, 3000) {
			w.WriteRTP(pkt)
		}
	}
	w.Close()
	if filepath.Ext(path) != ".mkv" {
		t.Errorf("H.264 written to %s, want Matroska", path)
	}
	probe, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "stream=codec_name,width,height:format=duration",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	lines := strings.Fields(string(probe))
	if len(lines) != 2 || lines[0] != "h264,320,180" {
		t.Fatalf("ffprobe: %q, want h264,320,180", probe)
	}
	if d, _ := strconv.ParseFloat(lines[1], 64); d < 1.6 || d > 2.2 {
		t.Errorf("duration %.2f s, want about 2", d)
	}
	// The Matroska header says the size too (players size their view
	// from it before decoding).
	hf, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	var doc struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment webm.Segment    `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(hf, &doc); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	if tr := doc.Segment.Tracks.TrackEntry; len(tr) != 1 || tr[0].Video == nil ||
		tr[0].Video.PixelWidth != 320 || tr[0].Video.PixelHeight != 180 {
		t.Errorf("Matroska header: tracks %+v, want one video of 320×180", tr)
	}
	out, err = exec.Command(ffmpeg, "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("decoding: %v: %s", err, out)
	}
}

// TestSPSSize reads the picture size from the SPS of pictures ffmpeg
// encodes in several profiles and sizes, cropped ones among them.
func TestSPSSize(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("needs ffmpeg (scripts/ensure-ffmpeg.sh): %v", err)
		}
		t.Skipf("needs ffmpeg: %v", err)
	}
	for _, c := range []struct {
		profile, pixFmt string
		w, h            int
	}{
		{"baseline", "yuv420p", 320, 180},
		{"high", "yuv420p", 1920, 1080},
		{"high", "yuv420p", 642, 362},
		{"high444", "yuv444p", 100, 50},
	} {
		out, err := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=s="+strconv.Itoa(c.w)+"x"+strconv.Itoa(c.h)+":d=0.04",
			"-c:v", "libx264", "-profile:v", c.profile, "-pix_fmt", c.pixFmt, "-frames:v", "1", "-f", "h264", "-").Output()
		if err != nil {
			t.Fatalf("ffmpeg %s %d×%d: %v", c.profile, c.w, c.h, err)
		}
		key, w, h := h264Keyframe(out)
		if !key || w != c.w || h != c.h {
			t.Errorf("%s %d×%d: keyframe %v, size %d×%d", c.profile, c.w, c.h, key, w, h)
		}
	}
	// Nothing an SPS cannot be makes a size.
	for _, sps := range [][]byte{{0x67}, {0x67, 0x42, 0, 0x1e}, {0x67, 0x64, 0, 0x1f, 0xff, 0xff}} {
		if w, h, ok := spsSize(sps); ok {
			t.Errorf("spsSize(%x) = %d×%d", sps, w, h)
		}
	}
}
