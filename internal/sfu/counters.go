package sfu

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/bwe"
)

// Counters add up what the media path of a whole server did, for the
// operator's metrics. The read loops count into plain fields of their own
// and add them here about once a second (see layerTally); RTCP handlers,
// which run about once a second per stream, add here directly. Nothing on
// the per-packet, per-subscriber path touches these atomics.
type Counters struct {
	received, forwarded [2]flowCounter // by kindIndex
	dropped             [numDropReasons]atomic.Uint64

	nacked, retransmitted atomic.Uint64
	// rtcpIn counts subscribers' RTCP by type.
	rtcpIn [numRTCPTypes]atomic.Uint64
	// keyframeRequests counts PLIs sent to publishers.
	keyframeRequests atomic.Uint64

	// rtt and lost are the subscribers' receiver reports, by kindIndex.
	rtt, lost [2]histogram
	// probes counts the probes of subscribers' links (nil: none run).
	probes *bwe.Probes
	// sendPaths counts subscribe connections by how they send now
	// (SendNone not counted).
	sendPaths [numSendPaths]atomic.Int64
	// rtcpRead counts subscribers' RTCP packets by where they were read.
	rtcpRead [numRTCPReads]atomic.Uint64
	// readPaths counts publish connections by how their media is read
	// now; readAtSocket counts the packets read at a shared socket,
	// added to by the sockets' readers only (one goroutine each).
	readPaths    [numReadPaths]atomic.Int64
	readAtSocket atomic.Uint64
	// readQueueFull counts publishers' packets pion read because their
	// layer's queue at the socket was full: rare, so counted when it
	// happens.
	readQueueFull atomic.Uint64
	// queueOverflows counts subscribers' send queues backing up (see
	// QueueLimits): rare, so counted when it happens.
	queueOverflows atomic.Uint64
	// shardedFanOuts counts the packets whose fan-out was split over
	// shards (shard.go): once a packet, only for large audiences.
	shardedFanOuts atomic.Uint64
}

type flowCounter struct {
	packets, bytes atomic.Uint64
}

// DropReason is why the forwarder did not send a packet.
type DropReason int

// Reasons for a drop.
const (
	// DropKeyframe: the subscriber waits for a keyframe to start at.
	DropKeyframe DropReason = iota
	// DropWrite: the write to the subscriber failed, or its connection
	// was not ready yet.
	DropWrite
	// DropMalformed: the publisher's packet could not be parsed.
	DropMalformed
	// DropShard: the shard of a large fan-out the subscriber is with
	// was too far behind (shard.go).
	DropShard
	numDropReasons
)

func (r DropReason) String() string {
	return [...]string{"keyframe", "write", "malformed", "shard"}[r]
}

// SendPath is how a subscribe connection's packets go (see Egress).
type SendPath int

// Send paths.
const (
	// SendNone: the connection is not connected, or closed.
	SendNone SendPath = iota
	// SendShared: meetd's egress encrypts and queues them on a shared
	// UDP socket.
	SendShared
	// SendICE: meetd's egress encrypts them and writes them through the
	// connection's ICE transport (TCP, or a socket of its own).
	SendICE
	// SendPion: pion's write path: the fast egress is off, or could not
	// read the keys.
	SendPion
	numSendPaths
)

func (p SendPath) String() string {
	return [...]string{"none", "shared_socket", "ice", "pion"}[p]
}

// RTCPRead is where meetd read a subscriber's RTCP packet (a compound
// packet counts once).
type RTCPRead int

// Where RTCP is read.
const (
	// RTCPAtSocket: decrypted by the shared socket's reader.
	RTCPAtSocket RTCPRead = iota
	// RTCPFromPion: through pion's SRTCP session, on other paths and
	// before meetd has the keys.
	RTCPFromPion
	// RTCPDropped: at the shared socket, a packet that did not decrypt
	// (forged, or a replay) or did not parse.
	RTCPDropped
	numRTCPReads
)

func (r RTCPRead) String() string {
	return [...]string{"shared_socket", "pion", "dropped"}[r]
}

// RTCPType names the RTCP messages from subscribers meetd counts.
type RTCPType int

// RTCP messages from subscribers.
const (
	RTCPPLI RTCPType = iota
	RTCPFIR
	RTCPNACK
	RTCPReceiverReport
	numRTCPTypes
)

func (t RTCPType) String() string {
	return [...]string{"pli", "fir", "nack", "rr"}[t]
}

// Kinds are the media kinds counters are kept by, audio first.
var Kinds = [2]webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}

func kindIndex(k webrtc.RTPCodecType) int {
	if k == webrtc.RTPCodecTypeVideo {
		return 1
	}
	return 0
}

// Bucket bounds of the receiver report histograms.
var (
	RTTBuckets  = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2}
	LossBuckets = []float64{0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1}
)

// histogram counts observations in fixed buckets with atomics.
type histogram struct {
	counts [16]atomic.Uint64 // one per bound, and one for +Inf
	sum    atomic.Uint64     // float64 bits
}

func (h *histogram) observe(bounds []float64, v float64) {
	i := 0
	for i < len(bounds) && v > bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Histogram is a histogram's state: cumulative counts by upper bound.
type Histogram struct {
	Count   uint64
	Sum     float64
	Buckets map[float64]uint64
}

func (h *histogram) snapshot(bounds []float64) Histogram {
	s := Histogram{Buckets: make(map[float64]uint64, len(bounds)), Sum: math.Float64frombits(h.sum.Load())}
	for i, b := range bounds {
		s.Count += h.counts[i].Load()
		s.Buckets[b] = s.Count
	}
	s.Count += h.counts[len(bounds)].Load()
	return s
}

// Flow is a count of packets and their RTP payload bytes.
type Flow struct{ Packets, Bytes uint64 }

// CounterSnapshot is the counters at one moment.
type CounterSnapshot struct {
	// Received from publishers and Forwarded to subscribers, by kind
	// (Kinds); retransmissions are not forwarded packets.
	Received, Forwarded [2]Flow
	Dropped             [numDropReasons]uint64
	// NACKed is how many packets subscribers asked for again,
	// Retransmitted how many meetd sent again.
	NACKed, Retransmitted uint64
	RTCP                  [numRTCPTypes]uint64
	// KeyframeRequests is how many PLIs meetd sent publishers.
	KeyframeRequests uint64
	// RTT (seconds) and Lost (fraction) from subscribers' receiver
	// reports, by kind.
	RTT, Lost [2]Histogram
	// SendPaths is how many subscribe connections send each way now.
	SendPaths [numSendPaths]int64
	// RTCPRead counts subscribers' RTCP packets by where meetd read them.
	RTCPRead [numRTCPReads]uint64
	// ReadPaths is how many publish connections are read each way now,
	// ReadAtSocket how many of their packets were read at a shared socket.
	ReadPaths    [numReadPaths]int64
	ReadAtSocket uint64
	// ReadQueueFull counts their packets pion read because their layer's
	// queue at the socket was full.
	ReadQueueFull uint64
	// QueueOverflows counts the times a subscriber's send queue backed
	// up and its video was dropped until a keyframe.
	QueueOverflows uint64
	// ShardedFanOuts counts the packets whose fan-out was split over
	// several goroutines.
	ShardedFanOuts uint64
}

// Snapshot reads the counters.
func (c *Counters) Snapshot() CounterSnapshot {
	var s CounterSnapshot
	for k := range Kinds {
		s.Received[k] = Flow{c.received[k].packets.Load(), c.received[k].bytes.Load()}
		s.Forwarded[k] = Flow{c.forwarded[k].packets.Load(), c.forwarded[k].bytes.Load()}
		s.RTT[k] = c.rtt[k].snapshot(RTTBuckets)
		s.Lost[k] = c.lost[k].snapshot(LossBuckets)
	}
	for i := range s.Dropped {
		s.Dropped[i] = c.dropped[i].Load()
	}
	for i := range s.RTCP {
		s.RTCP[i] = c.rtcpIn[i].Load()
	}
	s.NACKed, s.Retransmitted = c.nacked.Load(), c.retransmitted.Load()
	s.KeyframeRequests = c.keyframeRequests.Load()
	for i := range s.SendPaths {
		s.SendPaths[i] = c.sendPaths[i].Load()
	}
	for i := range s.RTCPRead {
		s.RTCPRead[i] = c.rtcpRead[i].Load()
	}
	s.QueueOverflows = c.queueOverflows.Load()
	for i := range s.ReadPaths {
		s.ReadPaths[i] = c.readPaths[i].Load()
	}
	s.ReadAtSocket = c.readAtSocket.Load()
	s.ReadQueueFull = c.readQueueFull.Load()
	s.ShardedFanOuts = c.shardedFanOuts.Load()
	return s
}

// tallyInterval is how often a read loop adds its counts to Counters.
const tallyInterval = int64(time.Second)

// tally is what a read loop counted, in plain fields only it touches.
type tally struct {
	received, forwarded Flow
	dropped             [numDropReasons]uint64
}

// layerTally is a layer's counts: what its read loop counted and the
// part of that already added to Counters.
type layerTally struct {
	counted, added tally
	addedAt        int64
}

// count adds one received packet's fan-out to the layer's counts, and
// them to c once per tallyInterval. It runs on the layer's read loop.
func (lt *layerTally) count(c *Counters, kind int, info *packetInfo) {
	n := &lt.counted
	n.received.Packets++
	n.received.Bytes += uint64(info.size)
	lt.countSent(c, kind, info)
}

// countSent adds what one packet's fan-out (or a shard's part of it) sent
// and dropped to the layer's counts, and them to c once per
// tallyInterval.
func (lt *layerTally) countSent(c *Counters, kind int, info *packetInfo) {
	n := &lt.counted
	n.forwarded.Packets += uint64(info.sent)
	n.forwarded.Bytes += uint64(info.sent) * uint64(info.size)
	n.dropped[DropKeyframe] += uint64(info.waiting)
	n.dropped[DropWrite] += uint64(info.failed)
	if info.now-lt.addedAt >= tallyInterval {
		lt.addTo(c, kind, info.now)
	}
}

// addTo adds the counts not yet added to c.
func (lt *layerTally) addTo(c *Counters, kind int, now int64) {
	n, a := &lt.counted, &lt.added
	c.received[kind].packets.Add(n.received.Packets - a.received.Packets)
	c.received[kind].bytes.Add(n.received.Bytes - a.received.Bytes)
	c.forwarded[kind].packets.Add(n.forwarded.Packets - a.forwarded.Packets)
	c.forwarded[kind].bytes.Add(n.forwarded.Bytes - a.forwarded.Bytes)
	for i := range n.dropped {
		if d := n.dropped[i] - a.dropped[i]; d != 0 {
			c.dropped[i].Add(d)
		}
	}
	*a = *n
	lt.addedAt = now
}

// ntpMiddle is the middle 32 bits of the NTP time of t (unix
// nanoseconds): what receiver reports give back as LSR.
func ntpMiddle(t int64) uint32 {
	const ntpEpochOffset = 2208988800 // seconds from 1900 to 1970
	sec := uint64(t/int64(time.Second)) + ntpEpochOffset
	frac := uint64(t%int64(time.Second)) << 16 / uint64(time.Second)
	return uint32(sec<<16 | frac)
}

// rttSlack is how far below 0 a round trip may come out from rounding
// (1/65536 s units): about a millisecond.
const rttSlack = 66

// reportRTT is the round trip a reception report shows at now (unix
// nanoseconds), from the sender report it names (RFC 3550 6.4.1); false
// when it names none or the result makes no sense.
func reportRTT(lsr, dlsr uint32, now int64) (time.Duration, bool) {
	if lsr == 0 {
		return 0, false
	}
	d := int32(ntpMiddle(now) - lsr - dlsr)
	switch {
	case d < -rttSlack:
		// The clock moved, or the report is wrong.
		return 0, false
	case d < 0:
		// Rounding of a round trip near 0 (loopback).
		d = 0
	}
	return time.Duration(int64(d) * int64(time.Second) >> 16), true
}
