package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// probed is what ffprobe says of a file.
type probed struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		CodecType string `json:"codec_type"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func (p probed) duration() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

func probe(t *testing.T, ffprobe, path string) probed {
	t.Helper()
	out, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "stream=codec_name,codec_type,width,height:format=duration",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, out)
	}
	return p
}

// decodeErrors decodes the whole file and returns what ffmpeg complains of.
func decodeErrors(t *testing.T, ffmpeg, path string) string {
	t.Helper()
	out, err := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return err.Error() + ": " + string(out)
	}
	return strings.TrimSpace(string(out))
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
				f = math.Inf(-1) // -inf dB: silence
			}
			times, values = append(times, at), append(values, f)
		}
	}
	return times, values
}

// flashes are the times the picture brightens by more than rise and
// darkens again within a few frames: the clip's flashes, wherever they
// are in the picture.
func flashes(t *testing.T, ffmpeg, path string, rise float64) []float64 {
	t.Helper()
	return flashesIn(t, ffmpeg, path, "", rise)
}

// flashesIn are the flashes in the region crop (ffmpeg's w:h:x:y) of the
// picture, all of it when crop is empty.
func flashesIn(t *testing.T, ffmpeg, path, crop string, rise float64) []float64 {
	t.Helper()
	filter := "signalstats"
	if crop != "" {
		filter = "crop=" + crop + "," + filter
	}
	times, y := series(t, ffmpeg, path, "-vf", filter, "lavfi.signalstats.YAVG")
	var out []float64
	for i := 1; i < len(y); i++ {
		if y[i]-y[i-1] < rise {
			continue
		}
		for j := i + 1; j < len(y) && j <= i+6; j++ {
			if y[j]-y[j-1] < -rise/2 {
				out = append(out, times[i])
				break
			}
		}
	}
	return out
}

// beeps are the times the sound rises from silence, in 10 ms windows.
func beeps(t *testing.T, ffmpeg, path string) []float64 {
	t.Helper()
	return beepsOf(t, ffmpeg, path, 0)
}

// beepsOf are the beeps of a tone of hz (any when 0): two band-pass
// filters keep the other tones of a mix out, so that one participant's
// beep is not hidden in another's that overlaps it.
func beepsOf(t *testing.T, ffmpeg, path string, hz int) []float64 {
	t.Helper()
	band := ""
	if hz > 0 {
		b := "bandpass=f=" + strconv.Itoa(hz) + ":width_type=h:w=200,"
		band = b + b
	}
	times, rms := series(t, ffmpeg, path, "-af", "aresample=48000,"+band+"asetnsamples=n=480,astats=metadata=1:reset=1",
		"lavfi.astats.Overall.RMS_level")
	var out []float64
	for i := 1; i < len(rms); i++ {
		if rms[i] > -40 && rms[i-1] <= -40 {
			out = append(out, times[i])
		}
	}
	return out
}

// nearest is the distance from x to the closest of ys.
func nearest(x float64, ys []float64) float64 {
	d := math.Inf(1)
	for _, y := range ys {
		d = math.Min(d, math.Abs(x-y))
	}
	return d
}

// grayFrame decodes the picture at time at as 8-bit luma.
func grayFrame(t *testing.T, ffmpeg, path string, at float64) []byte {
	t.Helper()
	out, err := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-ss", strconv.FormatFloat(at, 'f', 3, 64),
		"-i", path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-").Output()
	if err != nil {
		t.Fatalf("frame at %.2f s of %s: %v", at, path, err)
	}
	return out
}

// meanLuma is the mean of the region x0..x1, y0..y1 of a width-wide frame.
func meanLuma(frame []byte, width, x0, y0, x1, y1 int) float64 {
	var sum, n float64
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			if i := y*width + x; i < len(frame) {
				sum += float64(frame[i])
				n++
			}
		}
	}
	return sum / max(n, 1)
}
