package main

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The synthetic stream: VP8 at 30 fps, about 1.2 Mbit/s in 1100-byte
// packets, a keyframe five times the size of a delta frame every 3 s, and
// Opus-sized audio every 20 ms. A pacer sends one video packet per
// millisecond, as a browser's pacer spreads a frame out.
const (
	frameInterval    = time.Second / 30
	keyframeEvery    = 3 * time.Second
	videoPayload     = 1100
	keyframePackets  = 22 // about 5 delta frames
	audioInterval    = 20 * time.Millisecond
	audioPayload     = 120
	pacerInterval    = time.Millisecond
	rtpHeaderBytes   = 12
	videoPacketBytes = rtpHeaderBytes + videoPayload
	audioPacketBytes = rtpHeaderBytes + audioPayload
)

// deltaPackets alternates 4 and 5 packets per delta frame.
func deltaPackets(frame uint32) int { return 4 + int(frame%2) }

// Every packet carries its send time at stampOffset of the payload: after
// the VP8 payload descriptor (4 bytes, 6 in W4) and the 10-byte keyframe
// payload header in video, at the same place in audio. A magic number
// marks it.
const (
	stampOffset = 16
	stampMagic  = 0x4d4c
	stampLen    = 10
)

// epoch is the origin of send stamps; publishers and subscribers share the
// process. The clock is the wall clock, which the kernel's receive stamps
// are on (see arrival.go).
var epoch = time.Now().UnixNano()

func nowNanos() int64 { return time.Now().UnixNano() - epoch }

func putStamp(p []byte) {
	binary.BigEndian.PutUint16(p[stampOffset:], stampMagic)
	binary.BigEndian.PutUint64(p[stampOffset+2:], uint64(nowNanos()))
}

// readStamp returns the send time carried by a payload.
func readStamp(p []byte) (int64, bool) {
	if len(p) < stampOffset+stampLen || binary.BigEndian.Uint16(p[stampOffset:]) != stampMagic {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(p[stampOffset+2:])), true
}

// vp8Packet fills p (videoPayload bytes) as packet i of n of a frame: a
// payload descriptor with a 15-bit picture id (RFC 7741) and, in the first
// packet, the VP8 payload header; a keyframe's also carries the start code
// and a 640x480 size.
func vp8Packet(p []byte, picture uint16, i int, key bool) {
	clear(p[:stampOffset])
	p[0] = 0x80 // X: extended control bits follow
	if i == 0 {
		p[0] |= 0x10 // S: start of partition 0
	}
	p[1] = 0x80 // I: picture id follows
	binary.BigEndian.PutUint16(p[2:], 0x8000|picture&0x7fff)
	if i != 0 {
		return
	}
	const firstPartition = 500
	tag := uint32(1)<<4 | firstPartition<<5 // show_frame, partition size
	if !key {
		tag |= 1 // P: interframe
	}
	p[4], p[5], p[6] = byte(tag), byte(tag>>8), byte(tag>>16)
	if key {
		copy(p[7:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}) // start code, 640, 480
	}
}

// opusSource makes the synthetic Opus stream, a packet every
// audioInterval carrying its send time.
type opusSource struct {
	seq uint16
	ts  uint32
	pkt []byte
}

func newOpusSource() *opusSource { return &opusSource{pkt: make([]byte, audioPayload)} }

// send writes the next packet to t.
func (o *opusSource) send(t *webrtc.TrackLocalStaticRTP) {
	o.seq++
	o.ts += 960
	o.pkt[0] = 0x78 // an Opus TOC byte: SILK/CELT 20 ms
	putStamp(o.pkt)
	_ = t.WriteRTP(&rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: o.seq, Timestamp: o.ts, Marker: true},
		Payload: o.pkt,
	})
}

// syntheticMedia is the publisher's testclient.Media.
func syntheticMedia(ctx context.Context, audio, video *webrtc.TrackLocalStaticRTP, keyframeRequested func() bool) {
	tick := time.NewTicker(pacerInterval)
	defer tick.Stop()
	var (
		vseq      uint16
		vts       uint32
		picture   uint16
		frame     uint32
		backing   [keyframePackets]rtp.Packet
		queue     = backing[:0] // a frame's packets waiting for the pacer
		start     = time.Now()
		nextAudio = start
		nextFrame = start
		lastKey   time.Time
		opus      = newOpusSource()
		bufs      [keyframePackets][videoPayload]byte
		vidPT     uint8 = 96 // rewritten by the track for each binding
	)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if !now.Before(nextAudio) {
				nextAudio = nextAudio.Add(audioInterval)
				opus.send(audio)
			}
			if !now.Before(nextFrame) && len(queue) == 0 {
				nextFrame = nextFrame.Add(frameInterval)
				if now.Sub(nextFrame) > time.Second {
					nextFrame = now // fell far behind: do not burst to catch up
				}
				frame++
				picture++
				vts = uint32(now.Sub(start) * 90000 / time.Second)
				key := keyframeRequested() || lastKey.IsZero() || now.Sub(lastKey) >= keyframeEvery
				n := deltaPackets(frame)
				if key {
					n, lastKey = keyframePackets, now
				}
				for i := range n {
					vseq++
					vp8Packet(bufs[i][:], picture, i, key)
					queue = append(queue, rtp.Packet{
						Header:  rtp.Header{Version: 2, PayloadType: vidPT, SequenceNumber: vseq, Timestamp: vts, Marker: i == n-1},
						Payload: bufs[i][:],
					})
				}
			}
			if len(queue) > 0 {
				putStamp(queue[0].Payload)
				_ = video.WriteRTP(&queue[0])
				if queue = queue[1:]; len(queue) == 0 {
					queue = backing[:0]
				}
			}
		}
	}
}
