package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/testclient"
)

// The test clip: clipLength of grey 320×180 video at 30 fps (VP8) with a
// white flash, and silence with a 1 kHz beep (Opus), the flash and the
// beep both from flashAt for a tenth of a second; it loops.
const (
	clipLength  = 3 * time.Second
	clipFrames  = 90  // 30 fps
	clipPackets = 150 // of 20 ms
	flashAt     = time.Second
)

type clip struct {
	video [][]byte // clipFrames VP8 frames
	audio [][]byte // clipPackets Opus packets
}

// needFFmpeg returns the paths of ffmpeg and ffprobe; without them the
// test is skipped, or fails under CI.
func needFFmpeg(t *testing.T) (ffmpeg, ffprobe string) {
	t.Helper()
	ffmpeg, err1 := exec.LookPath("ffmpeg")
	ffprobe, err2 := exec.LookPath("ffprobe")
	if err := errors.Join(err1, err2); err != nil {
		if underCI() {
			t.Fatalf("the recording tests need ffmpeg and ffprobe (scripts/ensure-ffmpeg.sh installs them): %v", err)
		}
		t.Skipf("ffmpeg and ffprobe are needed (apt-get install ffmpeg): %v", err)
	}
	return ffmpeg, ffprobe
}

// makeClip encodes the test clip with ffmpeg into a temporary directory
// and reads its frames.
func makeClip(t *testing.T, ffmpeg string) *clip { return makeToneClip(t, ffmpeg, 1000) }

// makeToneClip is the test clip with a beep of hz: participants with
// beeps of their own can be told apart in a mix.
func makeToneClip(t *testing.T, ffmpeg string, hz int) *clip {
	t.Helper()
	dir := t.TempDir()
	flash := "between(t,1,1.099)"
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(ffmpeg, append([]string{"-hide_banner", "-v", "error", "-y"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg %v: %v: %s", args, err, out)
		}
	}
	run("-f", "lavfi", "-i", "color=c=gray:s=320x180:r=30:d=3,drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='"+flash+"'",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-g", "6", "-keyint_min", "6",
		"-auto-alt-ref", "0", "-lag-in-frames", "0", filepath.Join(dir, "v.webm"))
	run("-f", "lavfi", "-i", "sine=frequency="+strconv.Itoa(hz)+":sample_rate=48000:duration=3",
		"-af", "volume=volume=0:enable='not(between(t,1,1.1))'", "-ac", "2",
		"-c:a", "libopus", "-frame_duration", "20", "-b:a", "64k", filepath.Join(dir, "a.webm"))
	c := &clip{video: readBlocks(t, filepath.Join(dir, "v.webm")), audio: readBlocks(t, filepath.Join(dir, "a.webm"))}
	if len(c.video) < clipFrames || len(c.audio) < clipPackets {
		t.Fatalf("clip has %d frames and %d packets, want %d and %d", len(c.video), len(c.audio), clipFrames, clipPackets)
	}
	c.video, c.audio = c.video[:clipFrames], c.audio[:clipPackets]
	return c
}

// readBlocks reads the frames of a WebM file's one track (with ebml-go's
// decoder, on this goroutine: its block reader races with itself).
func readBlocks(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var doc struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment webm.Segment    `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(f, &doc); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%s: %v", path, err)
	}
	var frames [][]byte
	for _, c := range doc.Segment.Cluster {
		for _, b := range c.SimpleBlock {
			frames = append(frames, b.Data...)
		}
	}
	return frames
}

// media sends the clip, looping, in real time: the camera, the screen
// share (the same pictures) while the client of self shares one, and the
// microphone, all on one clock, so that every flash and its beep leave
// together.
func (c *clip) media(self *atomic.Pointer[testclient.Client]) testclient.Media {
	return func(ctx context.Context, audio, video *webrtc.TrackLocalStaticRTP, _ func() bool) {
		vp := rtp.NewPacketizer(1200, 0, 0, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
		sp := rtp.NewPacketizer(1200, 0, 0, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
		ap := rtp.NewPacketizer(1200, 0, 0, &codecs.OpusPayloader{}, rtp.NewRandomSequencer(), 48000)
		start := time.Now()
		frame, packet := 0, 0
		for {
			nextVideo := start.Add(time.Duration(frame) * time.Second / 30)
			nextAudio := start.Add(time.Duration(packet) * 20 * time.Millisecond)
			next := min(nextVideo.UnixNano(), nextAudio.UnixNano())
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(time.Unix(0, next))):
			}
			now := time.Now()
			if !now.Before(nextVideo) {
				f := c.video[frame%clipFrames]
				for _, p := range vp.Packetize(f, 3000) {
					_ = video.WriteRTP(p)
				}
				if cl := self.Load(); cl != nil {
					if screen := cl.Screen(); screen != nil {
						for _, p := range sp.Packetize(f, 3000) {
							_ = screen.WriteRTP(p)
						}
					} else {
						sp.SkipSamples(3000)
					}
				}
				frame++
			}
			if !now.Before(nextAudio) {
				for _, p := range ap.Packetize(c.audio[packet%clipPackets], 960) {
					_ = audio.WriteRTP(p)
				}
				packet++
			}
		}
	}
}

// clipClient joins a meeting and publishes the clip.
func clipClient(t *testing.T, ctx context.Context, url, room, name string, c *clip) *testclient.Client {
	t.Helper()
	var self atomic.Pointer[testclient.Client]
	cl := joinMeeting(t, ctx, url, room, testclient.Options{Name: name, Media: c.media(&self)})
	self.Store(cl)
	return cl
}
