package sfu

import (
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// ErrCodecNotSupported is returned by Bind when the subscriber cannot
// receive the publisher's codec.
var ErrCodecNotSupported = errors.New("subscriber does not support the publisher's codec")

// DownTrack carries one Track to one subscriber. It is the webrtc.TrackLocal
// a subscriber's peer connection sends.
type DownTrack struct {
	track *Track
	// bound is set by Bind and cleared by Unbind; the forwarding path only
	// loads it.
	bound atomic.Pointer[binding]
	// started is set once video forwarding has begun at a keyframe.
	started             atomic.Bool
	lastKeyframeRequest atomic.Int64 // unix nanoseconds
	packets             atomic.Uint64
	retransmits         atomic.Uint64
	// resendStart and resent count retransmissions in the current
	// resendWindow; only ReadRTCP's goroutine uses them.
	resendStart int64
	resent      int
	// hdr is the header of the packet being sent. Only the track's read loop
	// uses it: a field, not a local, so that sending allocates nothing.
	hdr rtp.Header
}

type binding struct {
	ssrc        uint32
	payloadType uint8
	w           webrtc.TrackLocalWriter
}

// Track is the publisher's track this down track carries.
func (d *DownTrack) Track() *Track { return d.track }

// Packets is how many packets were sent to the subscriber.
func (d *DownTrack) Packets() uint64 { return d.packets.Load() }

// Retransmits is how many packets were sent again after a NACK.
func (d *DownTrack) Retransmits() uint64 { return d.retransmits.Load() }

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
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if strings.EqualFold(want.MimeType, webrtc.MimeTypeH264) && !sameH264Profile(c.SDPFmtpLine, want.SDPFmtpLine) {
			continue
		}
		d.bound.Store(&binding{ssrc: uint32(ctx.SSRC()), payloadType: uint8(c.PayloadType), w: ctx.WriteStream()})
		d.started.Store(false)
		d.track.RequestKeyframe()
		return c, nil
	}
	return webrtc.RTPCodecParameters{}, ErrCodecNotSupported
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(nil)
	return nil
}

// writeRTP forwards one packet, whose header h is already stripped for
// forwarding. It runs on the track's read loop only.
func (d *DownTrack) writeRTP(h *rtp.Header, payload []byte, keyframe bool) {
	b := d.bound.Load()
	if b == nil {
		return
	}
	d.hdr = *h
	d.hdr.SSRC = b.ssrc
	d.hdr.PayloadType = b.payloadType
	if d.track.kind == webrtc.RTPCodecTypeVideo && !d.started.Load() {
		if !keyframe {
			d.requestKeyframe()
			return
		}
		// Video starts once a keyframe went out. Until the subscriber's DTLS
		// handshake is done pion drops packets, reporting 0 bytes written:
		// then wait for the next keyframe.
		if n, err := b.w.WriteRTP(&d.hdr, payload); err != nil || n == 0 {
			d.requestKeyframe()
			return
		}
		d.started.Store(true)
		d.packets.Add(1)
		return
	}
	if _, err := b.w.WriteRTP(&d.hdr, payload); err == nil {
		d.packets.Add(1)
	}
}

// A subscriber gets at most maxResends retransmissions per resendWindow,
// so that one that loses much (or claims to) cannot make meetd spend its
// time resending: about a third of a 1.2 Mbit/s stream.
const (
	resendWindow = int64(250 * time.Millisecond)
	maxResends   = 12
)

// resend sends again the packets a NACK reports lost that the track's
// cache still holds. buf is scratch space of maxPacketSize bytes. It runs
// on ReadRTCP's goroutine only.
func (d *DownTrack) resend(nack *rtcp.TransportLayerNack, buf []byte) {
	cache := d.track.cache
	b := d.bound.Load()
	if cache == nil || b == nil || !d.started.Load() {
		return
	}
	now := time.Now().UnixNano()
	if now-d.resendStart > resendWindow {
		d.resendStart, d.resent = now, 0
	}
	var pkt rtp.Packet
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			if d.resent >= maxResends {
				return
			}
			n := cache.get(seq, buf, now)
			if n == 0 || pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			h := forwardHeader(&pkt.Header)
			h.SSRC, h.PayloadType = b.ssrc, b.payloadType
			d.resent++
			if _, err := b.w.WriteRTP(&h, pkt.Payload); err == nil {
				d.retransmits.Add(1)
			}
		}
	}
}

// requestKeyframe asks again while a subscriber waits for its first
// keyframe, in case the first request or its answer was lost.
func (d *DownTrack) requestKeyframe() {
	now := time.Now().UnixNano()
	if now-d.lastKeyframeRequest.Load() < int64(time.Second) {
		return
	}
	d.lastKeyframeRequest.Store(now)
	d.track.RequestKeyframe()
}

// ReadRTCP handles the subscriber's RTCP for this down track until the
// sender stops: keyframe requests go on to the publisher, NACKs are
// answered from the track's cache.
func (d *DownTrack) ReadRTCP(sender *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	scratch := make([]byte, maxPacketSize)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.track.RequestKeyframe()
			case *rtcp.TransportLayerNack:
				d.resend(p, scratch)
			}
		}
	}
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
