package sfu

import "github.com/pion/rtp"

// offsets are what a down track adds to the sequence numbers, timestamps,
// VP8 picture ids and TL0PICIDX of the layer it forwards, so that the
// subscriber sees one stream whichever layers it came from.
type offsets struct {
	seq uint16
	ts  uint32
	pic uint16 // modulo 2^15
	tl0 uint8
}

// rewriter keeps a down track's stream continuous across layer switches.
// It belongs to whoever sends the down track's packets.
type rewriter struct {
	off offsets
	// The newest values sent, and when (unix nanoseconds).
	seq     uint16
	ts      uint32
	pic     uint16
	tl0     uint8
	hasPic  bool
	hasTL0  bool
	sentAt  int64
	maxSent bool // seq/ts hold a packet already sent
}

const picMask = 0x7fff

// minFrameTicks is the least timestamp step meetd puts between the last
// packet of one layer and the first of the next: one frame at 30 fps of
// the 90 kHz video clock.
const minFrameTicks = 90000 / 30

// switchTo makes h, the first packet of a keyframe of a new layer, follow
// the last packet sent: sequence numbers go on by one, the timestamp by the
// time that passed (at least a frame), picture id and TL0PICIDX by one.
// The first layer a down track sends keeps its own numbers.
func (r *rewriter) switchTo(h *rtp.Header, payload []byte, d vp8Descriptor, vp8 bool, now int64, clockRate uint32) {
	if !r.maxSent {
		r.off = offsets{}
		return
	}
	r.off.seq = r.seq + 1 - h.SequenceNumber
	step := uint32(minFrameTicks)
	if elapsed := now - r.sentAt; elapsed > 0 && clockRate > 0 {
		if t := uint32(elapsed * int64(clockRate) / 1e9); t > step {
			step = t
		}
	}
	r.off.ts = r.ts + step - h.Timestamp
	if vp8 && d.picture != 0 && r.hasPic {
		r.off.pic = (r.pic + 1 - d.pictureID(payload)) & picMask
	} else {
		r.off.pic = 0
	}
	if vp8 && d.tl0 != 0 && r.hasTL0 {
		r.off.tl0 = r.tl0 + 1 - payload[d.tl0]
	} else {
		r.off.tl0 = 0
	}
}

// rewrite applies the offsets to h and returns the payload to send: the
// packet's own when nothing in it changes, or else a rewritten copy in buf.
// It notes the newest values sent.
func (r *rewriter) rewrite(h *rtp.Header, payload []byte, d vp8Descriptor, vp8 bool, buf []byte, now int64) []byte {
	h.SequenceNumber += r.off.seq
	h.Timestamp += r.off.ts
	if !r.maxSent || int16(h.SequenceNumber-r.seq) > 0 {
		r.seq, r.ts, r.sentAt, r.maxSent = h.SequenceNumber, h.Timestamp, now, true
	}
	if !vp8 || (d.picture == 0 && d.tl0 == 0) {
		return payload
	}
	out := payload
	if (r.off.pic != 0 && d.picture != 0) || (r.off.tl0 != 0 && d.tl0 != 0) {
		if len(payload) > len(buf) {
			return payload
		}
		out = buf[:copy(buf, payload)]
	}
	if d.picture != 0 {
		pic := (d.pictureID(payload) + r.off.pic) & picMask
		if r.off.pic != 0 {
			d.setPictureID(out, pic)
			pic = d.pictureID(out)
		}
		if !r.hasPic || int16((pic-r.pic)<<1) > 0 {
			r.pic, r.hasPic = pic, true
		}
	}
	if d.tl0 != 0 {
		tl0 := payload[d.tl0] + r.off.tl0
		if r.off.tl0 != 0 {
			out[d.tl0] = tl0
		}
		if !r.hasTL0 || int8(tl0-r.tl0) > 0 {
			r.tl0, r.hasTL0 = tl0, true
		}
	}
	return out
}
