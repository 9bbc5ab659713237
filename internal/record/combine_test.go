package record

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// needFFmpeg is the path of ffmpeg; without it the test is skipped, or
// fails under CI.
func needFFmpeg(t *testing.T) string {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the recording tests need ffmpeg (scripts/ensure-ffmpeg.sh installs it): %v", err)
		}
		t.Skipf("ffmpeg is needed (apt-get install ffmpeg): %v", err)
	}
	return ffmpeg
}

// testClip is 3 s of VP8 at 30 fps and Opus in 20 ms packets, with a
// white flash and a beep of hz together at 1 s.
type testClip struct{ video, audio [][]byte }

func makeTestClip(t *testing.T, ffmpeg string, hz int) testClip {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(ffmpeg, append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg %v: %v: %s", args, err, out)
		}
	}
	run("-f", "lavfi", "-i", "color=c=gray:s=320x180:r=30:d=3,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,1,1.099)'",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-g", "6", "-keyint_min", "6",
		"-auto-alt-ref", "0", "-lag-in-frames", "0", filepath.Join(dir, "v.webm"))
	run("-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=48000:duration=3", hz),
		"-af", "volume=volume=0:enable='not(between(t,1,1.1))'", "-ac", "2",
		"-c:a", "libopus", "-frame_duration", "20", "-b:a", "64k", filepath.Join(dir, "a.webm"))
	c := testClip{video: fileFrames(t, filepath.Join(dir, "v.webm")), audio: fileFrames(t, filepath.Join(dir, "a.webm"))}
	if len(c.video) < 90 || len(c.audio) < 150 {
		t.Fatalf("clip has %d frames and %d packets", len(c.video), len(c.audio))
	}
	c.video, c.audio = c.video[:90], c.audio[:150]
	return c
}

// fileFrames reads the frames of a WebM file's one track.
func fileFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	var frames [][]byte
	for _, b := range readBlocks(t, path) {
		frames = append(frames, b.data...)
	}
	return frames
}

// clipPacket is one RTP packet of the clip as it reaches the writer.
type clipPacket struct {
	audio bool
	pkt   *rtp.Packet
	at    time.Time
}

// clipPackets packetizes loops of the clip as a publisher sends it in
// real time from base: audio and video on one clock, the video's RTP
// clock starting at videoTS and the audio's at audioTS. Each packet
// arrives when it was sent, plus delay(audio, index of the packet).
func clipPackets(c testClip, loops int, base time.Time, videoTS, audioTS uint32, delay func(audio bool, i int) time.Duration) []clipPacket {
	vp := rtp.NewPacketizer(1200, 96, 1, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewFixedSequencer(1), 90000)
	ap := rtp.NewPacketizer(1200, 111, 2, &codecs.OpusPayloader{}, rtp.NewFixedSequencer(1), 48000)
	var out []clipPacket
	frames, packets := loops*len(c.video), loops*len(c.audio)
	f, a := 0, 0
	for f < frames || a < packets {
		vAt := time.Duration(f) * time.Second / 30
		aAt := time.Duration(a) * 20 * time.Millisecond
		if f < frames && (a >= packets || vAt <= aAt) {
			for _, p := range vp.Packetize(c.video[f%len(c.video)], 3000) {
				p.Timestamp = videoTS + uint32(f*3000)
				out = append(out, clipPacket{pkt: p, at: base.Add(vAt + delay(false, len(out)))})
			}
			f++
			continue
		}
		for _, p := range ap.Packetize(c.audio[a%len(c.audio)], 960) {
			p.Timestamp = audioTS + uint32(a*960)
			out = append(out, clipPacket{audio: true, pkt: p, at: base.Add(aAt + delay(true, len(out)))})
		}
		a++
	}
	return out
}

// recordClip writes the packets (those keep says) to who's camera and
// microphone files in dir as the recorder would, the recording having
// started at start, and returns the manifest's files.
func recordClip(t *testing.T, dir, who string, start time.Time, pkts []clipPacket, keep func(p clipPacket) bool) []TrackFile {
	t.Helper()
	stats := &Stats{}
	log := slog.New(slog.DiscardHandler)
	vw := newTrackWriter(codecFor("video/vp8"), filepath.Join(dir, who+"-cam.webm"), start, stats, nil, nil, Ring, log)
	aw := newTrackWriter(codecFor("audio/opus"), filepath.Join(dir, who+"-mic.webm"), start, stats, nil, nil, Ring, log)
	for _, p := range pkts {
		if !keep(p) {
			continue
		}
		w := vw
		if p.audio {
			w = aw
		}
		w.queue <- queued{copyPacket(p.pkt), p.at}
	}
	vw.Close()
	aw.Close()
	var files []TrackFile
	for _, f := range []struct {
		w          *trackWriter
		file, kind string
	}{{vw, who + "-cam.webm", "camera"}, {aw, who + "-mic.webm", "microphone"}} {
		first, d, size, err := f.w.info()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, TrackFile{File: f.file, Participant: who, Kind: f.kind, Offset: seconds(first.Sub(start)), Duration: d, Size: size})
	}
	return files
}

// combine makes the combined file of files in dir.
func combine(t *testing.T, ffmpeg, dir string, files []TrackFile) string {
	t.Helper()
	c := &combiner{r: &Recorder{cfg: Config{FFmpeg: ffmpeg}}, ctx: context.Background()}
	m := &Manifest{Start: 0, Files: files}
	if err := c.ffmpeg(dir, m, func(float64) {}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, CombinedName)
}

// series runs ffmpeg with a filter that prints one metadata key per frame
// and returns (pts_time, value) pairs.
func series(t *testing.T, ffmpeg, path, filterFlag, filter, key string) (times, values []float64) {
	t.Helper()
	print := "metadata"
	if filterFlag == "-af" {
		print = "ametadata"
	}
	out, err := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", path, filterFlag,
		filter+","+print+"=print:key="+key+":file=-", "-f", "null", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg %s on %s: %v", filter, path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	var at float64
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "pts_time:"); i >= 0 {
			at, _ = strconv.ParseFloat(strings.Fields(line[i+len("pts_time:"):])[0], 64)
			continue
		}
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				f = math.Inf(-1)
			}
			times, values = append(times, at), append(values, f)
		}
	}
	return times, values
}

// flashes are the times the picture brightens and darkens again, in
// the region crop (an ffmpeg crop=w:h:x:y) of the picture.
func flashes(t *testing.T, ffmpeg, path, crop string) []float64 {
	t.Helper()
	times, y := series(t, ffmpeg, path, "-vf", "crop="+crop+",signalstats", "lavfi.signalstats.YAVG")
	var out []float64
	for i := 1; i < len(y); i++ {
		if y[i]-y[i-1] < 20 {
			continue
		}
		for j := i + 1; j < len(y) && j <= i+6; j++ {
			if y[j]-y[j-1] < -10 {
				out = append(out, times[i])
				break
			}
		}
	}
	return out
}

// beeps are the times a tone of hz rises from silence, in 10 ms windows:
// two band-pass filters keep other participants' tones out.
func beeps(t *testing.T, ffmpeg, path string, hz int) []float64 {
	t.Helper()
	band := fmt.Sprintf("bandpass=f=%d:width_type=h:w=200", hz)
	times, rms := series(t, ffmpeg, path, "-af", "aresample=48000,"+band+","+band+",asetnsamples=n=480,astats=metadata=1:reset=1",
		"lavfi.astats.Overall.RMS_level")
	var out []float64
	for i := 1; i < len(rms); i++ {
		if rms[i] > -40 && rms[i-1] <= -40 {
			out = append(out, times[i])
		}
	}
	return out
}

// syncError is how far each flash in the crop region of the combined
// file is from the nearest beep of hz, in ms.
func syncError(t *testing.T, ffmpeg, path, crop string, hz, want int) []float64 {
	t.Helper()
	fs, bs := flashes(t, ffmpeg, path, crop), beeps(t, ffmpeg, path, hz)
	if len(fs) < want || len(bs) < want {
		t.Fatalf("%s: flashes at %v, beeps at %v: want %d of each", filepath.Base(path), fs, bs, want)
	}
	var out []float64
	for _, f := range fs {
		d := math.Inf(1)
		for _, b := range bs {
			d = math.Min(d, math.Abs(f-b))
		}
		out = append(out, math.Round(d*1000))
	}
	return out
}

// TestCombineSyncAudioLoss: two publishers, the second's files starting
// 100 ms before the recording (by its sender's clock: its first packets
// were on the way), the first's microphone losing packets on the way (one
// in seven, and a burst of half a second); in the combined file each
// one's beeps fall within 80 ms of its flashes.
func TestCombineSyncAudioLoss(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	dir := t.TempDir()
	start := time.Now()
	none := func(bool, int) time.Duration { return 0 }
	ana := clipPackets(makeTestClip(t, ffmpeg, 1000), 4, start.Add(200*time.Millisecond), 1000, 5000, none)
	ben := clipPackets(makeTestClip(t, ffmpeg, 2500), 4, start.Add(-100*time.Millisecond), 7000, 9000, none)
	n := 0
	files := recordClip(t, dir, "Ana", start, ana, func(p clipPacket) bool {
		if !p.audio {
			return true
		}
		n++
		return n%7 != 0 && (n < 100 || n > 125)
	})
	files = append(files, recordClip(t, dir, "Ben", start, ben, func(clipPacket) bool { return true })...)
	combined := combine(t, ffmpeg, dir, files)
	// Two cameras side by side, each 640 wide.
	for i, p := range []struct {
		who string
		hz  int
	}{{"Ana", 1000}, {"Ben", 2500}} {
		off := syncError(t, ffmpeg, combined, fmt.Sprintf("640:720:%d:0", i*640), p.hz, 4)
		t.Logf("%s: flash to beep, ms: %v", p.who, off)
		for _, d := range off {
			if d > 80 {
				t.Errorf("%s: a flash is %.0f ms from the nearest beep (all: %v), want 80 ms at most", p.who, d, off)
				break
			}
		}
	}
}
