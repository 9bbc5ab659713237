package record

import (
	"fmt"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// frameBuilder puts a stream's packets back in order and joins them into
// frames: pion's samplebuilder, or frameJitter, sized for the codec.
type frameBuilder interface {
	Push(*packetBuf)
	// Pop is the next whole frame, nil for none yet; PrevDroppedPackets
	// says packets were given up on before it.
	Pop() *media.Sample
	// Flush gives up on the packets still missing: what can be made of the
	// rest is popped next.
	Flush()
}

// JitterBuffer names the jitter buffer recordings put packets in order
// with (Config.JitterBuffer).
type JitterBuffer string

const (
	// SampleBuilder is pion's samplebuilder, the default. It keeps two
	// 65,536-entry arrays (1 MiB) per stream whatever its depth.
	SampleBuilder JitterBuffer = "samplebuilder"
	// Ring is frameJitter: a ring twice as deep as the codec waits for a
	// late packet (128 packets for Opus, 1,024 for video), with pooled
	// packet copies; about 1.5 MiB less per recorded subscriber in a
	// meeting (docs/performance.md, Recording).
	Ring JitterBuffer = "ring"
)

// ParseJitterBuffer checks a -record-jitter-buffer value.
func ParseJitterBuffer(s string) (JitterBuffer, error) {
	switch j := JitterBuffer(s); j {
	case SampleBuilder, Ring:
		return j, nil
	case "":
		return SampleBuilder, nil
	}
	return "", fmt.Errorf("%q is neither %q nor %q", s, SampleBuilder, Ring)
}

func newFrameBuilder(c *codec, jb JitterBuffer) frameBuilder {
	if jb == Ring {
		return newFrameJitter(c.maxLate, c.newDepacketizer)
	}
	return pionBuilder{samplebuilder.New(c.maxLate, c.newDepacketizer(), c.clockRate)}
}

// pionBuilder is pion's samplebuilder as a frameBuilder; the packets it
// is given are left to the garbage collector.
type pionBuilder struct{ *samplebuilder.SampleBuilder }

func (b pionBuilder) Push(p *packetBuf) { b.SampleBuilder.Push(&p.pkt) }

// frameJitter is a jitter buffer of a ring of packets twice as deep as the
// codec waits for a late one, in front of the codec's depacketizer. A
// packet missing while maxLate newer ones have come is given up on, and
// with it the frame it belonged to; the next frame out says so.
type frameJitter struct {
	slots          []*packetBuf
	mask           uint16
	maxLate        uint16
	newDepacketize func() rtp.Depacketizer
	depacketize    rtp.Depacketizer

	started       bool
	next, highest uint16 // the next sequence number to take; the newest seen

	// The frame being joined.
	inFrame bool
	broken  bool // one of its packets is missing or did not parse
	ts      uint32
	data    []byte
	// dropped counts packets given up on since the last frame out.
	dropped uint16
	// last is the size of the last frame out: the next one's first guess.
	last int

	ready []*media.Sample
}

func newFrameJitter(maxLate uint16, newDepacketizer func() rtp.Depacketizer) *frameJitter {
	size := 1
	for size < 2*int(maxLate) {
		size <<= 1
	}
	return &frameJitter{slots: make([]*packetBuf, size), mask: uint16(size - 1), maxLate: maxLate,
		newDepacketize: newDepacketizer, depacketize: newDepacketizer()}
}

// Push implements frameBuilder. The jitter buffer owns p from now on,
// and gives it back to the pool once taken.
func (j *frameJitter) Push(p *packetBuf) {
	seq := p.pkt.SequenceNumber
	if !j.started {
		j.started, j.next, j.highest = true, seq, seq
	}
	if int16(seq-j.next) < 0 || j.slots[seq&j.mask] != nil {
		p.release() // too late, or a duplicate
		return
	}
	// A packet further ahead than the ring holds: give up on what is
	// missing up to it; one far ahead (a stream that started over) starts
	// the ring afresh, in at most a ring's work.
	if seq-j.next > 2*uint16(len(j.slots)) {
		j.restart(seq)
	}
	for seq-j.next > j.mask {
		j.step()
	}
	j.slots[seq&j.mask] = p
	if int16(seq-j.highest) > 0 {
		j.highest = seq
	}
	for {
		if j.slots[j.next&j.mask] == nil && j.highest-j.next < j.maxLate {
			return // wait for it
		}
		if j.next == j.highest+1 {
			return // all taken
		}
		j.step()
	}
}

// restart takes what the ring holds, gives up on the frame being
// joined, and starts the ring again at seq.
func (j *frameJitter) restart(seq uint16) {
	for j.next != j.highest+1 {
		j.step()
	}
	if j.inFrame {
		j.inFrame, j.data = false, nil
		j.depacketize = j.newDepacketize()
	}
	j.dropped = max(j.dropped, 1)
	j.next, j.highest = seq, seq
}

// step takes the packet at next, or gives it up as lost.
func (j *frameJitter) step() {
	i := j.next & j.mask
	p := j.slots[i]
	j.slots[i] = nil
	j.next++
	if p == nil {
		j.dropped++
		if j.inFrame {
			j.broken = true
		}
		return
	}
	j.take(&p.pkt)
	p.release()
}

// take adds the next packet in order to the frame being joined.
func (j *frameJitter) take(p *rtp.Packet) {
	if j.inFrame && p.Timestamp != j.ts {
		j.endFrame() // its last packet was lost
	}
	if !j.inFrame {
		j.inFrame, j.broken, j.ts = true, false, p.Timestamp
		j.data = make([]byte, 0, j.last+j.last/4+len(p.Payload))
		if !j.depacketize.IsPartitionHead(p.Payload) {
			j.broken = true // its first packets were lost
		}
	}
	payload, err := j.depacketize.Unmarshal(p.Payload)
	if err != nil {
		j.broken = true
	} else if !j.broken {
		j.data = append(j.data, payload...)
	}
	if j.depacketize.IsPartitionTail(p.Marker, payload) {
		j.endFrame()
	}
}

func (j *frameJitter) endFrame() {
	j.inFrame = false
	if j.broken || len(j.data) == 0 {
		// A depacketizer that joins fragments keeps them between calls:
		// a fresh one does not mix this frame's into the next.
		j.depacketize = j.newDepacketize()
		j.dropped = max(j.dropped, 1)
		return
	}
	j.ready = append(j.ready, &media.Sample{Data: j.data, PacketTimestamp: j.ts, PrevDroppedPackets: j.dropped})
	j.last, j.data, j.dropped = len(j.data), nil, 0
}

// Pop implements frameBuilder.
func (j *frameJitter) Pop() *media.Sample {
	if len(j.ready) == 0 {
		return nil
	}
	s := j.ready[0]
	j.ready[0] = nil
	j.ready = j.ready[1:]
	if len(j.ready) == 0 {
		j.ready = j.ready[:0:0]
	}
	return s
}

// Flush implements frameBuilder: a frame whose last packet has not come
// is left out.
func (j *frameJitter) Flush() {
	if !j.started {
		return
	}
	for j.next != j.highest+1 {
		j.step()
	}
	j.inFrame = false
	j.data = nil
}

// packetBuf is a packet the writer's queue holds, with room for its
// payload: taken from the pool and given back once joined into a frame,
// so that recording allocates nothing per packet.
type packetBuf struct {
	pkt rtp.Packet
	buf [1500]byte
}

var packetPool = sync.Pool{New: func() any { return new(packetBuf) }}

// copyPacket is a copy of what the writer needs of pkt: the header's
// fields and the payload.
func copyPacket(pkt *rtp.Packet) *packetBuf {
	b := packetPool.Get().(*packetBuf)
	b.pkt.Header = rtp.Header{Version: 2, Marker: pkt.Marker, PayloadType: pkt.PayloadType,
		SequenceNumber: pkt.SequenceNumber, Timestamp: pkt.Timestamp, SSRC: pkt.SSRC}
	b.pkt.Payload = append(b.buf[:0], pkt.Payload...) // a larger one is allocated
	return b
}

// release gives b back to the pool.
func (b *packetBuf) release() {
	b.pkt.Payload = nil
	packetPool.Put(b)
}
