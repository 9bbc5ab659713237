package record

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
)

// fileBlock is one frame of a WebM file as read back: its time on the
// file's clock (ms), whether it is a keyframe, and its data.
type fileBlock struct {
	at   int64
	key  bool
	data [][]byte
}

// readBlocks reads back the frames of a WebM file's one track.
func readBlocks(t *testing.T, path string) []fileBlock {
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
	var out []fileBlock
	for _, c := range doc.Segment.Cluster {
		for _, b := range c.SimpleBlock {
			out = append(out, fileBlock{int64(c.Timecode) + int64(b.Timecode), b.Keyframe, b.Data})
		}
	}
	return out
}

// blocks reads back a file's frames: their timestamps (ms) and whether
// each is a keyframe.
func blocks(t *testing.T, path string) (ts []int64, keys []bool) {
	t.Helper()
	for _, b := range readBlocks(t, path) {
		ts, keys = append(ts, b.at), append(keys, b.key)
	}
	return ts, keys
}

// withBuilders runs test with meetd's jitter buffer and with pion's
// samplebuilder, which it stands in for.
func withBuilders(t *testing.T, test func(t *testing.T, jb JitterBuffer)) {
	for _, jb := range []JitterBuffer{SampleBuilder, Ring} {
		t.Run(string(jb), func(t *testing.T) { test(t, jb) })
	}
}

func newTestWriter(t *testing.T, jb JitterBuffer, mime string, keyframes *atomic.Int32) (*trackWriter, string, *Stats) {
	path := filepath.Join(t.TempDir(), "track"+codecFor(mime).ext)
	stats := &Stats{}
	w := newTrackWriter(codecFor(mime), path, time.Now(), stats, func() { keyframes.Add(1) }, nil, jb, slog.New(slog.DiscardHandler))
	return w, path, stats
}

// TestWriterTimestampWrap: Opus packets whose RTP timestamps wrap past
// 2^32, some of them reordered, are written in order, 20 ms apart.
func TestWriterTimestampWrap(t *testing.T) { withBuilders(t, testWriterTimestampWrap) }

func testWriterTimestampWrap(t *testing.T, jb JitterBuffer) {
	var kf atomic.Int32
	w, path, _ := newTestWriter(t, jb, "audio/opus", &kf)
	const n = 100
	start := uint32(1<<32 - 960*30)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	for i := 10; i+1 < n; i += 10 {
		order[i], order[i+1] = order[i+1], order[i] // reordered on the way
	}
	for _, i := range order {
		w.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 7, SequenceNumber: uint16(65500 + i),
			Timestamp: start + uint32(i*960)}, Payload: []byte{0xfc, byte(i)}})
	}
	w.Close()
	ts, _ := blocks(t, path)
	if len(ts) < n-2 {
		t.Fatalf("%d frames written, want about %d", len(ts), n)
	}
	for i := 1; i < len(ts); i++ {
		if ts[i]-ts[i-1] != 20 {
			t.Fatalf("frame %d at %d ms after %d ms: want 20 ms apart (timestamps %v)", i, ts[i], ts[i-1], ts)
		}
	}
}

// vp8 is a VP8 RTP payload: the descriptor (start of a partition when
// first) and, in the first packet, a frame header saying key or not.
func vp8(first, key bool) []byte {
	if !first {
		return []byte{0x00, 0xaa, 0xbb}
	}
	b := byte(0x01) // interframe
	if key {
		b = 0x00
	}
	return []byte{0x10, b, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}
}

// TestWriterLossWaitsForKeyframe: video starts at a keyframe; a packet
// lost for good makes the writer ask for a keyframe and skip the frames
// until it comes, which would not decode.
func TestWriterLossWaitsForKeyframe(t *testing.T) { withBuilders(t, testWriterLossWaitsForKeyframe) }

func testWriterLossWaitsForKeyframe(t *testing.T, jb JitterBuffer) {
	var kf atomic.Int32
	w, path, stats := newTestWriter(t, jb, "video/vp8", &kf)
	seq := uint16(0)
	send := func(frame int, key, lose bool) {
		for p := range 2 {
			seq++
			if lose && p == 1 {
				continue
			}
			w.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 9, SequenceNumber: seq, Marker: p == 1,
				Timestamp: uint32(frame * 3000)}, Payload: vp8(p == 0, key)})
		}
	}
	send(0, false, false) // before any keyframe: skipped
	send(1, true, false)
	for f := 2; f < 10; f++ {
		send(f, false, f == 5)
	}
	// The jitter buffer gives up on the lost packet once it is far behind.
	for f := 10; f < 300; f++ {
		send(f, f == 200, false)
	}
	w.Close()
	ts, keys := blocks(t, path)
	if len(ts) == 0 || !keys[0] || ts[0] != 0 {
		t.Fatalf("first frame at %v key %v, want a keyframe at 0", ts, keys)
	}
	// Frames 1-4 are kept, then nothing until the keyframe at 200.
	var after []int64
	for i, at := range ts {
		if at > 4*100/3+1 && at < 199*100/3 {
			after = append(after, ts[i])
		}
	}
	if len(after) != 0 {
		t.Errorf("frames written between the loss and the next keyframe: %v ms", after)
	}
	if kf.Load() == 0 || stats.Lost.Load() == 0 {
		t.Errorf("after a loss: %d keyframe requests, %d lost", kf.Load(), stats.Lost.Load())
	}
	if last := ts[len(ts)-1]; last < 298*100/3-1 {
		t.Errorf("last frame at %d ms, want the last one sent", last)
	}
}

// TestWriterFullQueueDrops: WriteRTP never waits: past the queue's length
// packets are dropped and counted.
func TestWriterFullQueueDrops(t *testing.T) {
	stats := &Stats{}
	w := &trackWriter{queue: make(chan queued, 4), stats: stats}
	done := make(chan struct{})
	go func() {
		for i := range 10 {
			w.WriteRTP(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i)}, Payload: []byte{1}})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("WriteRTP blocked on a full queue")
	}
	if stats.Dropped.Load() != 6 {
		t.Errorf("%d dropped, want 6", stats.Dropped.Load())
	}
}
