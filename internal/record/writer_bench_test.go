package record

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// BenchmarkWriterVideo is the cost of recording one packet of a camera
// like meetload's (1100-byte payloads, about six packets a frame, a
// keyframe every 90 frames): the copy onto the queue, the jitter buffer,
// the muxer and the writes, all of a packet's way to the file.
func BenchmarkWriterVideo(b *testing.B) {
	for _, jb := range []JitterBuffer{SampleBuilder, Ring} {
		b.Run(string(jb), func(b *testing.B) { benchmarkWriterVideo(b, jb) })
	}
}

func benchmarkWriterVideo(b *testing.B, jb JitterBuffer) {
	w := newTrackWriter(codecFor("video/vp8"), filepath.Join(b.TempDir(), "cam.webm"), time.Now(), &Stats{}, nil, nil,
		jb, slog.New(slog.DiscardHandler))
	payload := make([]byte, 1100)
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 5}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		frame, part := i/6, i%6
		pkt.SequenceNumber, pkt.Timestamp, pkt.Marker = uint16(i), uint32(frame*3000), part == 5
		pkt.Payload = payload[:1100]
		if part == 0 {
			copy(payload, vp8(true, frame%90 == 0))
		} else {
			copy(payload, vp8(false, false))
		}
		// The forwarding path never waits; the benchmark does, so that
		// every packet is written.
		for len(w.queue) == cap(w.queue) {
			time.Sleep(50 * time.Microsecond)
		}
		w.WriteRTP(pkt)
	}
	w.Close()
}
