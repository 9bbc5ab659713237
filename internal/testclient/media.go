package testclient

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
)

// Synthetic media: Opus-sized audio packets every 20 ms and VP8 frames at
// 30 fps whose payload descriptors are valid, with a keyframe every 3 s and
// on every keyframe request.
const (
	audioInterval    = 20 * time.Millisecond
	videoInterval    = time.Second / 30
	keyframeEvery    = 3 * time.Second
	videoPacketBytes = 1000
)

// Media writes a publisher's audio and video until ctx ends.
// keyframeRequested reports, and clears, whether meetd asked for a keyframe
// since it was last called.
type Media func(ctx context.Context, audio, video *webrtc.TrackLocalStaticRTP, keyframeRequested func() bool)

type publishedMedia struct {
	wg       sync.WaitGroup
	keyframe atomic.Bool
	// KeyframeRequests counts PLIs and FIRs received.
	keyframeRequests atomic.Int64
}

func (p *publishedMedia) wait() { p.wg.Wait() }

// Publish joins nothing by itself: a plain client's offer puts it on the
// default broadcast's stage, a joined one publishes into its room. It
// returns once meetd answered, and sends media until Close.
func (c *Client) Publish(ctx context.Context) error {
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	}, "audio", "camera")
	if err != nil {
		return err
	}
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
	}, "video", "camera")
	if err != nil {
		return err
	}
	send := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}
	if _, err := pc.AddTransceiverFromTrack(audio, send); err != nil {
		return err
	}
	vt, err := pc.AddTransceiverFromTrack(video, send)
	if err != nil {
		return err
	}
	pc.OnICECandidate(c.candidateHandler(signal.TargetPublish))
	c.mu.Lock()
	c.pub, c.answered = pc, false
	c.mu.Unlock()

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	if err := c.send(signal.Message{Type: signal.TypeOffer, SDP: offer.SDP}); err != nil {
		return err
	}
	if err := c.Wait(ctx, "answer", c.locked(func() bool { return c.answered || len(c.errs) > 0 })); err != nil {
		return err
	}
	if errs := c.Errors(); len(errs) > 0 {
		return fmt.Errorf("publish refused: %s: %s", errs[0].Code, errs[0].Message)
	}
	m := &publishedMedia{}
	c.mu.Lock()
	c.media = m
	c.mu.Unlock()
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		for {
			pkts, _, err := vt.Sender().ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					m.keyframeRequests.Add(1)
					m.keyframe.Store(true)
				}
			}
		}
	}()
	go func() {
		defer m.wg.Done()
		send := c.opts.Media
		if send == nil {
			send = syntheticMedia
		}
		send(c.ctx, audio, video, func() bool { return m.keyframe.Swap(false) })
	}()
	return nil
}

// KeyframeRequests is how many keyframe requests the publisher received.
func (c *Client) KeyframeRequests() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.media == nil {
		return 0
	}
	return c.media.keyframeRequests.Load()
}

func (c *Client) handleAnswer(sdp string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub == nil {
		return fmt.Errorf("answer without an offer")
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return err
	}
	c.answered = true
	for _, cand := range c.pendPub {
		if err := c.pub.AddICECandidate(cand); err != nil {
			return err
		}
	}
	c.pendPub = nil
	c.changedLocked()
	return nil
}

// syntheticMedia is the default Media.
func syntheticMedia(ctx context.Context, audio, video *webrtc.TrackLocalStaticRTP, keyframeRequested func() bool) {
	at := time.NewTicker(audioInterval)
	defer at.Stop()
	vt := time.NewTicker(videoInterval)
	defer vt.Stop()
	var aseq, vseq uint16
	var ats, vts uint32
	lastKey := time.Time{}
	audioPayload := make([]byte, 80)
	videoPayload := make([]byte, videoPacketBytes)
	for {
		select {
		case <-ctx.Done():
			return
		case <-at.C:
			aseq++
			ats += 960
			_ = audio.WriteRTP(&rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: ats, Marker: true},
				Payload: audioPayload,
			})
		case now := <-vt.C:
			vts += 3000
			key := keyframeRequested() || now.Sub(lastKey) >= keyframeEvery
			n := 2
			if key {
				n = 6
				lastKey = now
			}
			for i := range n {
				vseq++
				p := videoPayload
				p[0] = 0x00 // VP8 payload descriptor: not a frame start
				if i == 0 {
					p[0] = 0x10 // S: start of partition 0
				}
				p[1] = 0x01 // VP8 payload header: P=1, an interframe
				if key {
					p[1] = 0x00
				}
				_ = video.WriteRTP(&rtp.Packet{
					Header:  rtp.Header{Version: 2, SequenceNumber: vseq, Timestamp: vts, Marker: i == n-1},
					Payload: p,
				})
			}
		}
	}
}

// IsVP8Keyframe reports whether a payload written by this package, with
// its one-byte descriptor, starts a keyframe.
func IsVP8Keyframe(p []byte) bool {
	return len(p) >= 2 && p[0]&0x10 != 0 && p[0]&0x07 == 0 && p[1]&0x01 == 0
}
