package sfu

import (
	"errors"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/bwe"
	"github.com/meetd/meetd/internal/udpbatch"
)

// ErrCodecNotSupported is returned by Bind when the subscriber cannot
// receive the publisher's codec.
var ErrCodecNotSupported = errors.New("subscriber does not support the publisher's codec")

// DownTrack carries one Track to one subscriber. It is the webrtc.TrackLocal
// a subscriber's peer connection sends. Of a simulcast track it forwards
// one layer, switching at a keyframe of the next, and rewrites sequence
// numbers, timestamps and VP8 picture ids so that the subscriber sees one
// continuous stream.
type DownTrack struct {
	track *Track
	// wire is the binding's SSRC and payload type, 0 while unbound: what
	// the fan-out needs of it, here where the down track is already in
	// cache.
	wire atomic.Uint64
	// bound is pion's writer of the stream, set by Bind and cleared by
	// Unbind, for when no Egress sends.
	bound atomic.Pointer[binding]
	// current is the layer being forwarded: nil until video starts at a
	// keyframe, and while the subscriber shows none.
	current atomic.Pointer[layer]
	// target is the layer the subscriber should get; nil for no video.
	target atomic.Pointer[layer]
	// view is how the subscriber shows the track; track.mu guards it.
	view view
	// maxLayer is the index of the largest layer the subscriber's bandwidth
	// estimate allows, noCap when it allows any; track.mu guards it.
	maxLayer int
	// pin, for a down track that forwards one layer only (a node link's,
	// linklayer.go), says which and whether it is wanted; nil for others.
	// track.mu guards it.
	pin *layerPin
	// est is the subscriber's bandwidth estimator, nil for none. It is set
	// before the down track is bound and never changes.
	est *bwe.Estimator
	// egress sends the subscriber's packets, nil for pion's write path
	// unqueued; fast is its fast egress, here where the fan-out finds it
	// in cache, nil for pion's write path. Both are set before the down
	// track is bound and never change.
	egress *Egress
	fast   fastEgress
	// sent is how the current layer's packets were rewritten, for NACKs.
	sent atomic.Pointer[switchPoint]
	// resync is set when the Egress dropped packets of the video: it
	// restarts at the next keyframe.
	resync atomic.Bool
	// probing is set while the subscriber's estimator has d pad
	// (padding.go): the one check the media path makes for it.
	probing atomic.Bool
	// reporter sends d's sender reports (nil: none does).
	reporter atomic.Pointer[Reporter]

	lastKeyframeRequest atomic.Int64 // unix nanoseconds
	packets             atomic.Uint64
	retransmits         atomic.Uint64
	// octets counts the payload bytes sent, retransmissions included.
	octets   atomic.Uint64
	switches atomic.Uint64
	// resendStart and resent count retransmissions in the current
	// resendWindow; only its Sender's RTCP handling uses them.
	resendStart int64
	resent      int

	// sending serialises the read loops of a simulcast track's layers,
	// which all offer this down track packets. Only the layer being
	// forwarded and the one switched to take it, so it is contended only
	// while a switch waits for a keyframe. A track with one layer has one
	// read loop and never takes it.
	sending sync.Mutex
	// Owned by whoever sends (the read loop, or the holder of sending):
	// fields, not locals, so that sending allocates nothing. buf, where a
	// rewritten payload is copied, lives apart: the fan-out asks for the
	// whole DownTrack ahead (fanout.go), and only a layer switch needs it.
	rw  rewriter
	hdr rtp.Header
	buf *[maxPacketSize]byte
	// ext and ast are the header's abs-send-time extension, when the
	// subscriber negotiated it: here, so that stamping allocates nothing.
	ext [1]rtp.Extension
	ast [3]byte

	// report is what the subscriber's last receiver report of the stream
	// said: read once a second, so kept apart from the fields the fan-out
	// touches for every packet (and DownTrack in the size class it had).
	report *reportFigures
}

// reportFigures are the round trip and loss of a subscriber's last
// receiver report. Its Sender's RTCP handling writes them, the stats view
// reads them.
type reportFigures struct {
	// rtt is in nanoseconds, -1 while no report gave one; lost is of
	// 256; at is when the report came, unix nanoseconds (0: none yet).
	rtt, at atomic.Int64
	lost    atomic.Uint32
	// pad is the padding of the last probe (padding.go), kept here with
	// what else is read seldom.
	pad atomic.Pointer[padding]
}

// View is how a subscriber shows a video: the size of its tile in pixels
// (0×0: not shown) and the quality the viewer chose.
type View struct {
	Width, Height int
	Quality       Quality
}

// Quality is a viewer's choice among a simulcast track's layers.
type Quality int

// Qualities: automatic picks by the size shown; the others the best layer
// up to the smallest, middle or largest.
const (
	QualityAuto Quality = iota
	QualityLow
	QualityMedium
	QualityHigh
)

// view is a down track's View; set is false until the subscriber says,
// and then the largest layer is sent.
type view struct {
	View
	set bool
}

// switchPoint is how a layer's packets were rewritten from the packet
// with outgoing sequence number from on.
type switchPoint struct {
	layer *layer
	off   offsets
	from  uint16
	// prev is how the same layer was rewritten before padding took
	// padFrom up to from-1 (padding.go); nil from a layer switch. depth
	// counts the points behind.
	prev    *switchPoint
	padFrom uint16
	depth   int
}

// packetInfo is what the read loop learns once about a packet for every
// down track, and what the down tracks did with it.
type packetInfo struct {
	keyframe bool
	vp8      bool
	desc     vp8Descriptor
	now      int64 // arrival, unix nanoseconds
	size     int   // of the payload
	// seal is the read loop's space to encrypt in (see Egress.write).
	seal *sealBuf
	// queue is the fan-out shard's own batch of datagrams (shard.go); nil
	// without shards: the shared sockets' batch takes them.
	queue *udpbatch.Queue
	// red is set for a RED packet (red.go): its primary block starts at
	// redOff, and all its blocks have payload type redInner (0: not all
	// the same).
	red      bool
	redInner uint8
	redOff   int
	// How many down tracks sent the packet, dropped it while waiting for
	// a keyframe, or failed to write it.
	sent, waiting, failed int32
}

// wire packs the SSRC and payload type a down track is bound with, with
// a bit that says it is bound, and the id of the abs-send-time header
// extension the subscriber negotiated (0: none).
type wire uint64

func makeWire(ssrc uint32, pt uint8) wire { return wire(1<<40 | uint64(pt)<<32 | uint64(ssrc)) }

func (w wire) ssrc() uint32 { return uint32(w) }
func (w wire) pt() uint8    { return uint8(w >> 32) }

// withAbsSendTime is w with the abs-send-time extension's id (1 to 14).
func (w wire) withAbsSendTime(id uint8) wire { return w | wire(id&0xf)<<44 }

func (w wire) absSendTime() uint8 { return uint8(w>>44) & 0xf }

// withRED is w with the payload type of RED the subscriber negotiated,
// for a track the publisher sends as RED.
func (w wire) withRED(pt uint8) wire { return w | wire(pt)<<48 }

// red is the payload type of RED, 0 when the subscriber takes plain Opus.
func (w wire) red() uint8 { return uint8(w >> 48) }

type binding struct {
	w webrtc.TrackLocalWriter
}

// Track is the publisher's track this down track carries.
func (d *DownTrack) Track() *Track { return d.track }

// Packets is how many packets were sent to the subscriber.
func (d *DownTrack) Packets() uint64 { return d.packets.Load() }

// Bytes is about how many bytes were sent to the subscriber, payloads and
// packet overheads (packetOverhead), retransmissions included.
func (d *DownTrack) Bytes() uint64 {
	return d.octets.Load() + (d.packets.Load()+d.retransmits.Load())*packetOverhead
}

// Retransmits is how many packets were sent again after a NACK.
func (d *DownTrack) Retransmits() uint64 { return d.retransmits.Load() }

// Switches is how many times the down track started forwarding a layer.
func (d *DownTrack) Switches() uint64 { return d.switches.Load() }

// Layer is the RID of the layer being forwarded, "" when none is (or the
// track has no simulcast).
func (d *DownTrack) Layer() string {
	if l := d.current.Load(); l != nil {
		return l.rid
	}
	return ""
}

// SetView tells how the subscriber shows the track. Audio ignores it.
func (d *DownTrack) SetView(v View) {
	t := d.track
	if t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d.view = view{View: v, set: true}
	d.retargetLocked()
}

// SetEstimator makes e the subscriber's bandwidth estimator for d: e
// reads d's RTCP and caps the layer d forwards. Call it before binding.
func (d *DownTrack) SetEstimator(e *bwe.Estimator) {
	d.est = e
	e.Add(d)
}

// SetEgress makes d send its packets with e, its subscribe connection's
// Egress (nil: through pion, unqueued). Call it before binding.
func (d *DownTrack) SetEgress(e *Egress) {
	d.egress = e
	if e != nil {
		d.fast = e.fast
	}
}

// put writes one packet, whose header is ready, to the subscriber. seal
// is the caller's space to encrypt in, q its batch (nil: the shared
// sockets').
func (d *DownTrack) put(h *rtp.Header, payload []byte, seal *sealBuf, q *udpbatch.Queue) (int, error) {
	video := d.track.kind == webrtc.RTPCodecTypeVideo
	if d.fast != nil {
		if n, ok, err := d.fast.WriteRTP(h, payload, video, seal[:], q); ok {
			return n, err
		}
	}
	b := d.bound.Load()
	if b == nil {
		return 0, nil
	}
	if d.egress != nil {
		// pion's write path blocks as ICE does: queued all the same.
		return d.egress.writePion(b.w, h, payload, seal, video)
	}
	return b.w.WriteRTP(h, payload)
}

// setMaxLayer caps the layer d forwards at index i of its track's
// layers (noCap: no cap).
func (d *DownTrack) setMaxLayer(i int) {
	t := d.track
	t.mu.Lock()
	defer t.mu.Unlock()
	d.maxLayer = i
	d.retargetLocked()
}

// retargetLocked sets the layer d should forward from its view and cap,
// asking for a keyframe of a new one. track.mu must be held.
func (d *DownTrack) retargetLocked() {
	t := d.track
	l := t.targetFor(d)
	if d.target.Swap(l) != l && l != nil && l != d.current.Load() {
		t.requestKeyframe(l)
	}
}

// ID implements webrtc.TrackLocal.
func (d *DownTrack) ID() string { return d.track.id }

// RID implements webrtc.TrackLocal.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.track.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.track.kind }

// Bind implements webrtc.TrackLocal: it picks the subscriber's payload type
// for the publisher's codec.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := d.track.codec
	var redPT uint8
	if d.track.redPT != 0 {
		if i := slices.IndexFunc(ctx.CodecParameters(), isRED); i >= 0 {
			redPT = uint8(ctx.CodecParameters()[i].PayloadType)
		}
	}
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if strings.EqualFold(want.MimeType, webrtc.MimeTypeH264) && !sameH264Profile(c.SDPFmtpLine, want.SDPFmtpLine) {
			continue
		}
		d.bound.Store(&binding{w: ctx.WriteStream()})
		w := makeWire(uint32(ctx.SSRC()), uint8(c.PayloadType))
		for _, e := range ctx.HeaderExtensions() {
			if e.URI == sdp.ABSSendTimeURI && e.ID > 0 && e.ID < 15 {
				w = w.withAbsSendTime(uint8(e.ID))
			}
		}
		if redPT != 0 {
			w = w.withRED(redPT)
		}
		d.wire.Store(uint64(w))
		d.current.Store(nil)
		d.track.requestKeyframe(d.target.Load())
		return c, nil
	}
	return webrtc.RTPCodecParameters{}, ErrCodecNotSupported
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.wire.Store(0)
	d.bound.Store(nil)
	return nil
}

// writeRTP forwards one packet of layer l, whose header h is already
// stripped for forwarding. It runs on l's read loop.
func (d *DownTrack) writeRTP(l *layer, h *rtp.Header, payload []byte, info *packetInfo) {
	b := wire(d.wire.Load())
	if b == 0 {
		return
	}
	if d.track.kind != webrtc.RTPCodecTypeVideo {
		d.hdr = *h
		d.hdr.SSRC = b.ssrc()
		d.hdr.PayloadType = b.pt()
		if info.red {
			// As it came to a subscriber of RED whose Opus has the
			// blocks' payload type; the primary frame to the others.
			if rpt := b.red(); rpt != 0 && info.redInner == b.pt() {
				d.hdr.PayloadType = rpt
			} else if payload = payload[info.redOff:]; len(payload) == 0 {
				return
			}
		}
		if n, err := d.put(&d.hdr, payload, info.seal, info.queue); err == nil && n > 0 {
			d.packets.Add(1)
			d.octets.Add(uint64(len(payload)))
			info.sent++
		} else {
			info.failed++
		}
		return
	}
	cur, tgt := d.current.Load(), d.target.Load()
	if l != cur && l != tgt {
		return
	}
	if d.track.simulcast {
		d.sending.Lock()
		defer d.sending.Unlock()
		cur, tgt = d.current.Load(), d.target.Load()
	}
	if d.resync.Load() {
		// What was sent last was dropped: start again at a keyframe.
		d.resync.Store(false)
		d.current.Store(nil)
		cur = nil
	}
	switch {
	case tgt == nil:
		// Not shown: no video until it is again.
		if cur != nil {
			d.current.Store(nil)
		}
	case l == cur:
		if l != tgt {
			// Keep the old layer going until the new one's keyframe.
			d.requestKeyframe(tgt)
		}
		if d.send(b, h, payload, info) && h.Marker && d.probing.Load() {
			d.sendPadding(b, info)
		}
	case l == tgt:
		if !info.keyframe {
			if cur == nil {
				// The subscriber gets nothing until the keyframe.
				info.waiting++
			}
			d.requestKeyframe(l)
			return
		}
		d.switchTo(b, l, h, payload, info)
	}
}

// switchTo starts forwarding layer l at h, the first packet of a keyframe.
// Until the subscriber's DTLS handshake is done pion drops packets,
// reporting 0 bytes written: then it waits for the next keyframe.
func (d *DownTrack) switchTo(b wire, l *layer, h *rtp.Header, payload []byte, info *packetInfo) {
	saved := d.rw
	d.hdr = *h
	d.rw.switchTo(&d.hdr, payload, info.desc, info.vp8, info.now, d.track.codec.ClockRate)
	from := d.rw.off.seq + h.SequenceNumber
	if !d.send(b, h, payload, info) {
		d.rw = saved
		d.requestKeyframe(l)
		return
	}
	d.sent.Store(&switchPoint{layer: l, off: d.rw.off, from: from})
	d.current.Store(l)
	d.switches.Add(1)
}

// send rewrites and writes one packet of the current layer.
func (d *DownTrack) send(b wire, h *rtp.Header, payload []byte, info *packetInfo) bool {
	d.hdr = *h
	d.hdr.SSRC = b.ssrc()
	d.hdr.PayloadType = b.pt()
	out := d.rw.rewrite(&d.hdr, payload, info.desc, info.vp8, d.buf[:], info.now)
	if id := b.absSendTime(); id != 0 {
		d.stampSendTime(id, info.now)
	}
	n, err := d.put(&d.hdr, out, info.seal, info.queue)
	if err != nil || n == 0 {
		info.failed++
		return false
	}
	d.packets.Add(1)
	d.octets.Add(uint64(len(out)))
	info.sent++
	return true
}

// stampSendTime puts the abs-send-time extension, with id, in d.hdr: the
// time meetd read the packet, which the fan-out sends at once. With it a
// browser's receive-side estimate (REMB) measures the delay the packets
// meet on the way, and falls as a queue builds, before anything is lost.
func (d *DownTrack) stampSendTime(id uint8, now int64) {
	// 6.18 fixed point seconds, 24 bits (webrtc.org's abs-send-time).
	v := uint32((uint64(now) << 18) / uint64(time.Second))
	d.ast = [3]byte{byte(v >> 16), byte(v >> 8), byte(v)}
	d.hdr.Extensions = d.ext[:0]
	_ = d.hdr.SetExtension(id, d.ast[:])
}

// A subscriber gets at most maxResends retransmissions per resendWindow,
// so that one that loses much (or claims to) cannot make meetd spend its
// time resending: about a third of a 1.2 Mbit/s stream.
const (
	resendWindow = int64(250 * time.Millisecond)
	maxResends   = 12
)

// resend sends again the packets a NACK reports lost that the cache of
// the layer being forwarded still holds, rewritten as they were first
// sent. buf is scratch space of maxPacketSize bytes, seal space to
// encrypt in. It runs on its Sender's RTCP reader only.
func (d *DownTrack) resend(nack *rtcp.TransportLayerNack, buf []byte, seal *sealBuf) {
	last := d.sent.Load()
	b := wire(d.wire.Load())
	if last == nil || last.layer.cache == nil || b == 0 || d.current.Load() != last.layer {
		return
	}
	now := time.Now().UnixNano()
	if now-d.resendStart > resendWindow {
		d.resendStart, d.resent = now, 0
	}
	var pkt rtp.Packet
	c := d.track.counters
	d.track.batch.Begin()
	defer d.track.batch.End()
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			if d.resent >= maxResends {
				return
			}
			sp := last.find(seq)
			if sp == nil {
				continue // sent from an earlier layer, or padding
			}
			n := sp.layer.cache.get(seq-sp.off.seq, buf, now)
			if n == 0 || pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			h := forwardHeader(&pkt.Header)
			h.SSRC, h.PayloadType = b.ssrc(), b.pt()
			h.SequenceNumber = seq
			h.Timestamp += sp.off.ts
			if sp.off.pic != 0 || sp.off.tl0 != 0 {
				// pkt.Payload is in buf, a copy of its own.
				rewritePayload(pkt.Payload, sp.off)
			}
			d.resent++
			if _, err := d.put(&h, pkt.Payload, seal, nil); err == nil {
				d.retransmits.Add(1)
				d.octets.Add(uint64(len(pkt.Payload)))
				c.retransmitted.Add(1)
			}
		}
	}
}

// nacked is how many packets a NACK reports lost.
func nacked(p *rtcp.TransportLayerNack) uint64 {
	var n int
	for _, pair := range p.Nacks {
		n += 1 + bits.OnesCount16(uint16(pair.LostPackets))
	}
	return uint64(n)
}

// rewritePayload applies the VP8 offsets of off to p in place.
func rewritePayload(p []byte, off offsets) {
	desc, ok := parseVP8Descriptor(p)
	if !ok {
		return
	}
	if desc.picture != 0 {
		desc.setPictureID(p, (desc.pictureID(p)+off.pic)&picMask)
	}
	if desc.tl0 != 0 {
		p[desc.tl0] += off.tl0
	}
}

// requestKeyframe asks for a keyframe of layer l while the subscriber
// waits for one, at most once a second, in case the first request or its
// answer was lost.
func (d *DownTrack) requestKeyframe(l *layer) {
	now := time.Now().UnixNano()
	if now-d.lastKeyframeRequest.Load() < int64(time.Second) {
		return
	}
	d.lastKeyframeRequest.Store(now)
	d.track.requestKeyframe(l)
}

// Sender is a subscribe connection's sender and the down track it
// carries. It hands the subscriber's RTCP about the sender's stream to
// that down track, also once the track was replaced: RTCP read from pion,
// and that the connection's Egress read at a shared socket.
type Sender struct {
	rtp  *webrtc.RTPSender
	down atomic.Pointer[DownTrack]
	// mu makes the two readers take turns: a down track's RTCP state
	// has one owner at a time.
	mu sync.Mutex
}

// NewSender starts handling the RTCP of rtp, which carries d, until the
// sender stops.
func NewSender(rtp *webrtc.RTPSender, d *DownTrack) *Sender {
	s := &Sender{rtp: rtp}
	s.down.Store(d)
	var ssrc uint32
	if enc := rtp.GetParameters().Encodings; d.egress != nil && len(enc) > 0 {
		ssrc = uint32(enc[0].SSRC)
		d.egress.addSender(ssrc, s)
	}
	go s.readRTCP(d.egress, ssrc)
	return s
}

// RTPSender is pion's sender.
func (s *Sender) RTPSender() *webrtc.RTPSender { return s.rtp }

// Down is the down track the sender carries.
func (s *Sender) Down() *DownTrack { return s.down.Load() }

// Replace makes the sender carry d, on the same stream.
func (s *Sender) Replace(d *DownTrack) error {
	if err := s.rtp.ReplaceTrack(d); err != nil {
		return err
	}
	s.down.Store(d)
	return nil
}

// readRTCP handles the subscriber's RTCP that pion reads, until the
// sender stops; then e (if any) stops handing it RTCP about ssrc.
func (s *Sender) readRTCP(e *Egress, ssrc uint32) {
	if e != nil {
		defer e.removeSender(ssrc, s)
	}
	buf := make([]byte, 1500)
	scratch := make([]byte, maxPacketSize)
	seal := new(sealBuf)
	for {
		n, _, err := s.rtp.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		s.down.Load().track.counters.rtcpRead[RTCPFromPion].Add(1)
		s.handle(pkts, scratch, seal)
	}
}

// handle handles the subscriber's RTCP: keyframe requests go on to the
// publisher, NACKs are answered from the track's cache, receiver reports
// and REMB feed the estimator. scratch and seal are the reading
// goroutine's.
func (s *Sender) handle(pkts []rtcp.Packet, scratch []byte, seal *sealBuf) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down.Load().handleRTCP(pkts, scratch, seal)
}

// handleRTCP handles RTCP about d's stream. scratch and seal are the
// reading goroutine's (see resend).
func (d *DownTrack) handleRTCP(pkts []rtcp.Packet, scratch []byte, seal *sealBuf) {
	c := d.track.counters
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			if _, ok := p.(*rtcp.FullIntraRequest); ok {
				c.rtcpIn[RTCPFIR].Add(1)
			} else {
				c.rtcpIn[RTCPPLI].Add(1)
			}
			l := d.current.Load()
			if l == nil {
				l = d.target.Load()
			}
			d.track.requestKeyframe(l)
		case *rtcp.TransportLayerNack:
			c.rtcpIn[RTCPNACK].Add(1)
			n := nacked(p)
			c.nacked.Add(n)
			d.resend(p, scratch, seal)
			if d.est != nil {
				d.est.NACK(int(n), time.Now().UnixNano())
			}
		case *rtcp.ReceiverReport:
			d.noteReports(p.Reports)
		case *rtcp.SenderReport:
			d.noteReports(p.Reports)
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			if d.est != nil {
				d.est.REMB(p.Bitrate, time.Now().UnixNano())
			}
		}
	}
}

// sendingRate is about what d sends, in bits per second: the bitrate of
// the layer it forwards. Taking it from the layer, measured once per
// published packet, keeps counting off the per-subscriber path.
func (d *DownTrack) sendingRate() float64 {
	if d.track.kind != webrtc.RTPCodecTypeVideo {
		return float64((*d.track.layers.Load())[0].bitrate.Load())
	}
	if l := d.current.Load(); l != nil {
		return float64(l.bitrate.Load())
	}
	return 0
}

// noteReports notes the subscriber's report of d's stream and gives it to
// the estimator. A compound report names every stream of the connection;
// each down track takes its own.
func (d *DownTrack) noteReports(reports []rtcp.ReceptionReport) {
	d.noteReportsAt(reports, time.Now().UnixNano())
}

func (d *DownTrack) noteReportsAt(reports []rtcp.ReceptionReport, now int64) {
	b := wire(d.wire.Load())
	if b == 0 {
		return
	}
	for _, r := range reports {
		if r.SSRC != b.ssrc() {
			continue
		}
		d.noteReception(r, now)
		if d.est != nil {
			if rtt, ok := reportRTT(r.LastSenderReport, r.Delay, now); ok {
				d.est.RTT(rtt, now)
			}
			d.est.Report(d, r.FractionLost, now)
		}
	}
}

// noteReception keeps the round trip and loss a report shows, and counts
// them for the server.
func (d *DownTrack) noteReception(r rtcp.ReceptionReport, now int64) {
	c, k := d.track.counters, kindIndex(d.track.kind)
	c.rtcpIn[RTCPReceiverReport].Add(1)
	lost := float64(r.FractionLost) / 256
	c.lost[k].observe(LossBuckets, lost)
	d.report.lost.Store(uint32(r.FractionLost))
	if rtt, ok := reportRTT(r.LastSenderReport, r.Delay, now); ok {
		c.rtt[k].observe(RTTBuckets, rtt.Seconds())
		d.report.rtt.Store(int64(rtt))
	}
	d.report.at.Store(now)
}

// sameH264Profile compares the packetization mode and profile of two H.264
// fmtp lines, the parts that must match for packets to be forwarded as they are.
func sameH264Profile(a, b string) bool {
	pa, pb := fmtpParams(a), fmtpParams(b)
	mode := func(p map[string]string) string {
		if m := p["packetization-mode"]; m != "" {
			return m
		}
		return "0"
	}
	profile := func(p map[string]string) string {
		// profile_idc only: constrained baseline (42e0) and baseline (4200)
		// streams decode alike.
		if id := p["profile-level-id"]; len(id) >= 2 {
			return strings.ToLower(id[:2])
		}
		return "42"
	}
	return mode(pa) == mode(pb) && profile(pa) == profile(pb)
}

func fmtpParams(line string) map[string]string {
	p := map[string]string{}
	for _, kv := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		p[strings.ToLower(k)] = v
	}
	return p
}
