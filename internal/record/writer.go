package record

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"

	"github.com/meetd/meetd/internal/sfu"
)

// queueLength bounds the packets waiting for a track's writer: about two
// seconds of a camera. Past it packets are dropped (and counted), so that
// a slow disk costs the recording, never the call.
const queueLength = 1024

// keyframeAgain is how often a writer that waits for a keyframe asks again.
const keyframeAgain = time.Second

// trackWriter writes one appearance of one track to one file: packets
// come from the forwarding path through a bounded queue, and one
// goroutine puts them in order (a jitter buffer), rebuilds frames and
// writes them.
type trackWriter struct {
	codec *codec
	path  string
	log   *slog.Logger
	// keyframe asks the publisher for a keyframe.
	keyframe func()
	// senderClock is the publisher's last sender report of a stream, nil
	// when there is none to ask.
	senderClock func(ssrc uint32) (sfu.SenderClock, bool)
	// jitter is the jitter buffer to use.
	jitter JitterBuffer
	// start is the recording's start, which offsets count from.
	start time.Time
	stats *Stats

	queue  chan queued
	stop   chan struct{}
	done   chan struct{}
	closed atomic.Bool

	// Set by the writer goroutine, read by the session.
	mu sync.Mutex
	// first is when the first frame was written, zero before; offset and
	// duration are in seconds; size in bytes.
	first    time.Time
	duration float64
	size     int64
	err      error
	// The first frame's stream and RTP timestamp; and the least delay
	// seen from the publisher's clock (by its sender reports) to a
	// packet's arrival, hasDelay false before any.
	firstSSRC uint32
	firstTS   uint32
	minDelay  time.Duration
	hasDelay  bool

	// The writer goroutine's own.
	out     webm.BlockWriteCloser
	file    *os.File
	sb      frameBuilder
	ssrc    uint32
	needKey bool
	lastAsk time.Time
	ext     int64  // unwrapped RTP timestamp of the last frame
	lastTS  uint32 // its RTP timestamp
	// The stream's clock: its first packet, with timestamp anchorExt,
	// arrived at anchor. A frame's time is read from it, so that the
	// jitter buffer's delay does not move frames on the timeline.
	anchor    time.Time
	anchorExt int64
	lastMs    int64
}

// queued is a packet with the time it arrived.
type queued struct {
	pkt *packetBuf
	at  time.Time
}

func newTrackWriter(c *codec, path string, start time.Time, stats *Stats, keyframe func(),
	senderClock func(uint32) (sfu.SenderClock, bool), jitter JitterBuffer, log *slog.Logger,
) *trackWriter {
	w := &trackWriter{
		codec: c, path: path, start: start, stats: stats, keyframe: keyframe, senderClock: senderClock,
		jitter: jitter, log: log,
		queue: make(chan queued, queueLength), stop: make(chan struct{}), done: make(chan struct{}),
		needKey: c.video,
	}
	go w.run()
	return w
}

// WriteRTP implements sfu.Sink: it copies the packet into the queue, or
// drops it when the queue is full.
func (w *trackWriter) WriteRTP(pkt *rtp.Packet) {
	if w.closed.Load() {
		return
	}
	p := copyPacket(pkt)
	select {
	case w.queue <- queued{p, time.Now()}:
	default:
		p.release()
		w.stats.Dropped.Add(1)
	}
}

// Close stops the writer and closes its file, playable; it returns once
// the file is closed.
func (w *trackWriter) Close() {
	if w.closed.Swap(true) {
		<-w.done
		return
	}
	close(w.stop)
	<-w.done
}

// info is what the manifest says of the file.
func (w *trackWriter) info() (first time.Time, duration float64, size int64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first, w.duration, w.size, w.err
}

func (w *trackWriter) run() {
	defer close(w.done)
	defer w.finish()
	tick := time.NewTicker(keyframeAgain)
	defer tick.Stop()
	for {
		select {
		case q := <-w.queue:
			w.push(q)
		case <-tick.C:
			if w.needKey && w.keyframe != nil {
				w.keyframe()
			}
		case <-w.stop:
			// What was queued before the stop is written.
			for {
				select {
				case q := <-w.queue:
					w.push(q)
				default:
					if w.sb != nil {
						w.sb.Flush()
						w.pop()
					}
					return
				}
			}
		}
	}
}

func (w *trackWriter) push(q queued) {
	p := &q.pkt.pkt
	if w.failed() {
		q.pkt.release()
		return
	}
	if w.sb == nil || p.SSRC != w.ssrc {
		// A new stream: the first, or another simulcast layer, or a
		// publisher that started over. Its clock starts afresh from when
		// its first packet came.
		if w.sb != nil {
			w.sb.Flush()
			w.pop()
			w.needKey = w.codec.video
		}
		w.ssrc = p.SSRC
		w.sb = newFrameBuilder(w.codec, w.jitter)
		w.anchor, w.anchorExt, w.ext, w.lastTS = q.at, int64(p.Timestamp), int64(p.Timestamp), p.Timestamp
	}
	w.noteDelay(p, q.at)
	w.sb.Push(q.pkt)
	w.pop()
}

// noteDelay notes how long after the publisher's clock said it was sent
// the packet p arrived at at, once sender reports tell it.
func (w *trackWriter) noteDelay(p *rtp.Packet, at time.Time) {
	if w.senderClock == nil {
		return
	}
	c, ok := w.senderClock(p.SSRC)
	if !ok {
		return
	}
	d := at.Sub(w.sentAt(c, p.Timestamp))
	w.mu.Lock()
	if !w.hasDelay || d < w.minDelay {
		w.minDelay, w.hasDelay = d, true
	}
	w.mu.Unlock()
}

// sentAt is when the sample of RTP timestamp ts was taken, by the
// publisher's clock that sender report c gives.
func (w *trackWriter) sentAt(c sfu.SenderClock, ts uint32) time.Time {
	return c.NTP.Add(time.Duration(int64(int32(ts-c.RTP)) * int64(time.Second) / int64(w.codec.clockRate)))
}

// sender is when the file's first frame was taken by the publisher's
// clock, and the least delay seen from that clock to meetd's; false until
// sender reports tell both.
func (w *trackWriter) sender() (first time.Time, delay time.Duration, ok bool) {
	w.mu.Lock()
	ssrc, ts, delay, ok := w.firstSSRC, w.firstTS, w.minDelay, w.hasDelay && !w.first.IsZero()
	w.mu.Unlock()
	if !ok || w.senderClock == nil {
		return time.Time{}, 0, false
	}
	c, ok := w.senderClock(ssrc)
	if !ok {
		return time.Time{}, 0, false
	}
	return w.sentAt(c, ts), delay, true
}

// frameTime is when the frame of unwrapped timestamp ext was sent, by its
// stream's clock.
func (w *trackWriter) frameTime(ext int64) time.Time {
	return w.anchor.Add(time.Duration((ext - w.anchorExt) * int64(time.Second) / int64(w.codec.clockRate)))
}

func (w *trackWriter) pop() {
	for {
		s := w.sb.Pop()
		if s == nil {
			return
		}
		if s.PrevDroppedPackets > 0 && w.codec.video {
			// A loss the jitter buffer could not mend: the frames until the
			// next keyframe would decode wrong.
			w.stats.Lost.Add(uint64(s.PrevDroppedPackets))
			w.needKey = true
		}
		// Unwrap the 32-bit timestamp (it wraps every 13 h at 90 kHz, and
		// may start anywhere).
		w.ext += int64(int32(s.PacketTimestamp - w.lastTS))
		w.lastTS = s.PacketTimestamp
		key, width, height := false, 0, 0
		if w.codec.keyframe != nil {
			key, width, height = w.codec.keyframe(s.Data)
		} else {
			key = true
		}
		if w.needKey {
			if !key {
				w.askKeyframe()
				continue
			}
			w.needKey = false
		}
		if err := w.write(s.Data, key, width, height); err != nil {
			w.fail(err)
			return
		}
	}
}

func (w *trackWriter) askKeyframe() {
	if w.keyframe != nil && time.Since(w.lastAsk) > keyframeAgain/4 {
		w.lastAsk = time.Now()
		w.keyframe()
	}
}

// write writes one frame, opening the file at the first.
func (w *trackWriter) write(frame []byte, key bool, width, height int) error {
	data := frame
	var private []byte
	if w.codec.Name == "H264" {
		var sps, pps []byte
		data, sps, pps = avcc(frame)
		private = avcConfig(sps, pps)
	}
	if w.out == nil {
		if w.codec.Name == "H264" && private == nil {
			w.needKey = true // the decoder needs the SPS and PPS first
			return nil
		}
		if err := w.open(width, height, private, w.frameTime(w.ext)); err != nil {
			return err
		}
	}
	ms := w.frameTime(w.ext).Sub(w.first).Milliseconds()
	if ms <= w.lastMs && w.size > 0 {
		ms = w.lastMs // never back in time: Matroska wants them in order
	}
	if _, err := w.out.Write(key, ms, data); err != nil {
		return err
	}
	w.lastMs = ms
	w.mu.Lock()
	w.size += int64(len(data))
	w.duration = float64(ms) / 1000
	w.mu.Unlock()
	w.stats.Bytes.Add(uint64(len(data)))
	return nil
}

func (w *trackWriter) open(width, height int, private []byte, first time.Time) error {
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	var fatal error
	opts := append(w.codec.options(), mkvcore.WithOnFatalHandler(func(err error) { fatal = err }),
		mkvcore.WithOnErrorHandler(func(err error) { w.fail(err) }))
	ws, err := webm.NewSimpleBlockWriter(&syncCloser{f}, []webm.TrackEntry{w.codec.trackEntry(width, height, private)}, opts...)
	if err == nil {
		err = fatal
	}
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("start %s: %w", filepath.Base(w.path), err)
	}
	w.out, w.file = ws[0], f
	w.mu.Lock()
	w.first, w.firstSSRC, w.firstTS = first, w.ssrc, w.lastTS
	w.mu.Unlock()
	return nil
}

func (w *trackWriter) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

func (w *trackWriter) fail(err error) {
	w.mu.Lock()
	first := w.err == nil
	if first {
		w.err = err
	}
	w.mu.Unlock()
	if first {
		w.log.Warn("recording a track failed", "file", filepath.Base(w.path), "err", err)
	}
}

func (w *trackWriter) finish() {
	if w.out != nil {
		if err := w.out.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			w.fail(err)
		}
	}
}

// syncCloser is the file as the muxer sees it: each block is written to
// the file as it comes (the kernel keeps it if meetd is killed), and
// Close syncs it to the disk.
type syncCloser struct{ f *os.File }

func (s *syncCloser) Write(b []byte) (int, error) { return s.f.Write(b) }

// WriteAt writes the cues and duration into the space kept for them.
func (s *syncCloser) WriteAt(b []byte, off int64) (int, error) { return s.f.WriteAt(b, off) }

func (s *syncCloser) Close() error {
	err := s.f.Sync()
	if e := s.f.Close(); err == nil {
		err = e
	}
	return err
}

var _ io.WriteCloser = (*syncCloser)(nil)
