package main

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/testclient"
)

// The simulcast stream of W4: the camera as three VP8 layers, the way a
// browser sends a 720p camera (testclient.SimulcastLayers: q 320×180, h
// 640×360, f 1280×720), 30 fps each, with W1's audio. f is W1's video,
// about 1.2 Mbit/s; h about 500 and q about 150 kbit/s. Each layer has
// its own sequence numbers, timestamps, picture ids and TL0PICIDX, a
// keyframe every 3 s and whenever meetd asks for one of that layer, and
// sends nothing while meetd has it paused. One pacer sends the layers'
// packets, one a millisecond, as a browser's does.
type simLayer struct {
	payload int // bytes of each packet's payload
	// delta and key are the packets of a delta frame and of a keyframe;
	// delta 0 alternates 4 and 5, as W1.
	delta, key int
}

var simLayers = [...]simLayer{
	{payload: 600, delta: 1, key: 5},
	{payload: 1050, delta: 2, key: 10},
	{payload: videoPayload, key: keyframePackets},
}

func (l simLayer) packets(frame uint32, key bool) int {
	switch {
	case key:
		return l.key
	case l.delta == 0:
		return deltaPackets(frame)
	}
	return l.delta
}

// perInterval is how many packets the layer sends between two periodic
// keyframes: one keyframe and the delta frames.
func (l simLayer) perInterval() float64 {
	frames := float64(keyframeEvery / frameInterval)
	delta := float64(l.delta)
	if l.delta == 0 {
		delta = 4.5
	}
	return (frames-1)*delta + float64(l.key)
}

// W4 video payloads carry their layer's marker (testclient.SimulcastLayers)
// after the send stamp, so that a subscriber can tell which it receives.
const layerMarkerAt = stampOffset + stampLen

// simulcastDescriptor is the size of the W4 VP8 payload descriptor: X; I,
// L and T; a 15-bit picture id; TL0PICIDX; TID/Y/KEYIDX.
const simulcastDescriptor = 6

// simPacket fills p as packet i of a frame of layer li.
func simPacket(p []byte, li int, picture uint16, tl0 uint8, i int, key bool) {
	clear(p[:stampOffset])
	p[0] = 0x80 // X
	if i == 0 {
		p[0] |= 0x10 // S: start of partition 0
	}
	p[1] = 0xe0 // I, L, T
	binary.BigEndian.PutUint16(p[2:], 0x8000|picture&0x7fff)
	p[4] = tl0
	p[layerMarkerAt] = testclient.SimulcastLayers[li].Marker
	if i != 0 {
		return
	}
	f := p[simulcastDescriptor:]
	const firstPartition = 300
	tag := uint32(1)<<4 | firstPartition<<5 // show_frame, partition size
	if !key {
		tag |= 1 // P: interframe
	}
	f[0], f[1], f[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if key {
		w, h := testclient.SimulcastLayers[li].Width, testclient.SimulcastLayers[li].Height
		copy(f[3:], []byte{0x9d, 0x01, 0x2a, byte(w), byte(w >> 8), byte(h), byte(h >> 8)})
	}
}

// simulcastMedia is the W4 publisher's testclient.SimulcastMedia.
func simulcastMedia(ctx context.Context, audio *webrtc.TrackLocalStaticRTP, video *testclient.SimulcastSender) {
	tick := time.NewTicker(pacerInterval)
	defer tick.Stop()
	type layerState struct {
		seq     uint16
		ts      uint32
		pic     uint16
		tl0     uint8
		lastKey time.Time
	}
	var layers [len(simLayers)]layerState
	for i := range layers {
		// Apart, as independent encoders' are.
		layers[i] = layerState{seq: uint16(10000 * i), ts: uint32(1e6 * i), pic: uint16(5000 * i), tl0: uint8(70 * i)}
	}
	type queued struct {
		layer int
		pkt   rtp.Packet
	}
	// Payloads come from a ring of buffers bigger than the queue ever
	// gets: a frame is skipped when the queue is near its size.
	const ring = 256
	var (
		bufs      = make([][videoPayload]byte, ring)
		next      int
		backing   = make([]queued, 0, ring)
		queue     = backing
		frame     uint32
		start     = time.Now()
		nextAudio = start
		nextFrame = start
		opus      = newOpusSource()
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
			if !now.Before(nextFrame) {
				nextFrame = nextFrame.Add(frameInterval)
				if now.Sub(nextFrame) > time.Second {
					nextFrame = now
				}
				frame++
				vts := uint32(now.Sub(start) * 90000 / time.Second)
				for li, l := range simLayers {
					s := &layers[li]
					if video.Paused(li) || len(queue) > ring-2*keyframePackets {
						continue
					}
					key := video.KeyframeRequested(li) || s.lastKey.IsZero() || now.Sub(s.lastKey) >= keyframeEvery
					if key {
						s.lastKey = now
					}
					s.pic++
					s.tl0++
					n := l.packets(frame, key)
					for i := range n {
						s.seq++
						p := bufs[next%ring][:l.payload]
						next++
						simPacket(p, li, s.pic, s.tl0, i, key)
						queue = append(queue, queued{layer: li, pkt: rtp.Packet{
							Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: s.seq,
								Timestamp: s.ts + vts, Marker: i == n-1},
							Payload: p,
						}})
					}
				}
			}
			if len(queue) > 0 {
				putStamp(queue[0].pkt.Payload)
				_ = video.WriteRTP(queue[0].layer, &queue[0].pkt)
				if queue = queue[1:]; len(queue) == 0 {
					queue = backing[:0]
				}
			}
		}
	}
}
