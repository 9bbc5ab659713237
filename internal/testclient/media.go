package testclient

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
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

// Stream ids of what a client publishes.
const (
	CameraStream = "camera"
	ScreenStream = "screen"
)

// AudioLevelURI is the RTP header extension of audio levels (RFC 6464).
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// Media writes a publisher's audio and video until ctx ends.
// keyframeRequested reports, and clears, whether meetd asked for a keyframe
// since it was last called.
type Media func(ctx context.Context, audio, video *webrtc.TrackLocalStaticRTP, keyframeRequested func() bool)

type publishedMedia struct {
	wg       sync.WaitGroup
	keyframe atomic.Bool
	// audioLevelID is the negotiated audio level extension id, 0 for none.
	audioLevelID uint8
	audioLevel   uint8
	screen       atomic.Pointer[webrtc.TrackLocalStaticRTP]
	screenSender *webrtc.RTPSender
	// orphanScreen is the SSRC of a screen share whose track was removed
	// but whose RTP is still written (Options.KeepScreenRTP), 0 for none;
	// writers is where.
	orphanScreen atomic.Uint32
	writers      *streamWriters
	// screenSent counts the screen share's packets written, videoSent the
	// camera's (by the default media).
	screenSent, videoSent atomic.Int64
	// KeyframeRequests counts PLIs and FIRs received.
	keyframeRequests atomic.Int64
	// layerKeyframe is set for a simulcast layer whose keyframe was asked for.
	layerKeyframe []atomic.Bool
	// layerPaused is set for a simulcast layer meetd asked to pause.
	layerPaused []atomic.Bool
}

func (p *publishedMedia) wait() { p.wg.Wait() }

// Publish joins nothing by itself: a plain client's offer puts it on the
// default broadcast's stage, a joined one publishes into its room. It
// returns once meetd answered, and sends media until Close.
func (c *Client) Publish(ctx context.Context) error {
	pc, err := c.api.NewPeerConnection(c.configuration())
	if err != nil {
		return err
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	}, "audio", CameraStream)
	if err != nil {
		return err
	}
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
	}, "video", CameraStream)
	if err != nil {
		return err
	}
	send := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}
	at, err := pc.AddTransceiverFromTrack(audio, send)
	if err != nil {
		return err
	}
	var layers []*webrtc.TrackLocalStaticRTP
	if c.opts.Simulcast {
		for _, l := range SimulcastLayers {
			t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			}, "video", CameraStream, webrtc.WithRTPStreamID(l.RID))
			if err != nil {
				return err
			}
			layers = append(layers, t)
		}
		video = layers[0]
	}
	vt, err := pc.AddTransceiverFromTrack(video, send)
	if err != nil {
		return err
	}
	for _, l := range layers[min(1, len(layers)):] {
		if err := vt.Sender().AddEncoding(l); err != nil {
			return err
		}
	}
	pc.OnICECandidate(c.candidateHandler(signal.TargetPublish))
	if c.opts.RestartICE {
		c.watchPublishICE(pc)
	}
	c.mu.Lock()
	old := c.pub
	c.pub = pc
	c.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	if err := c.negotiate(ctx); err != nil {
		c.mu.Lock()
		c.pub = nil
		c.mu.Unlock()
		_ = pc.Close()
		return err
	}
	m := &publishedMedia{audioLevel: c.opts.AudioLevel, writers: c.writers}
	if layers != nil {
		m.layerKeyframe = make([]atomic.Bool, len(layers))
		m.layerPaused = make([]atomic.Bool, len(layers))
	}
	if m.audioLevel == 0 {
		m.audioLevel = 127
	}
	for _, e := range at.Sender().GetParameters().HeaderExtensions {
		if e.URI == AudioLevelURI {
			m.audioLevelID = uint8(e.ID)
		}
	}
	c.mu.Lock()
	c.media = m
	c.mu.Unlock()
	m.wg.Add(3)
	// The audio sender's RTCP is read too, as a browser reads all it
	// gets: transport-wide feedback names the SSRC of the last packet it
	// covers, often the audio's, and pion hands it only to that sender.
	go m.readRTCP(at.Sender())
	if layers == nil {
		go m.readRTCP(vt.Sender())
	} else {
		m.wg.Add(len(layers) - 1)
		for i, l := range SimulcastLayers {
			go m.readSimulcastRTCP(vt.Sender(), l.RID, i)
		}
	}
	go func() {
		defer m.wg.Done()
		send := c.opts.Media
		if send == nil {
			send = m.send
		}
		if layers != nil {
			sender := &SimulcastSender{m: m, layers: layers, ids: simulcastIDs{mid: vt.Mid()}}
			for _, e := range vt.Sender().GetParameters().HeaderExtensions {
				switch e.URI {
				case sdp.SDESMidURI:
					sender.ids.midID = uint8(e.ID)
				case sdp.SDESRTPStreamIDURI:
					sender.ids.ridID = uint8(e.ID)
				}
			}
			sendLayers := c.opts.SimulcastMedia
			if sendLayers == nil {
				sendLayers = sendSimulcast
			}
			send = func(ctx context.Context, audio, _ *webrtc.TrackLocalStaticRTP, _ func() bool) {
				sendLayers(ctx, audio, sender)
			}
		}
		send(c.ctx, audio, video, func() bool { return m.keyframe.Swap(false) })
	}()
	return nil
}

// negotiate sends an offer for the publish connection and waits for the answer.
func (c *Client) negotiate(ctx context.Context) error {
	return c.negotiateWith(ctx, nil)
}

// negotiateWith is negotiate with offer options (an ICE restart).
func (c *Client) negotiateWith(ctx context.Context, opts *webrtc.OfferOptions) error {
	c.mu.Lock()
	pc := c.pub
	c.answered = false
	errs := len(c.errs)
	c.mu.Unlock()
	offer, err := pc.CreateOffer(opts)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	if err := c.send(signal.Message{Type: signal.TypeOffer, SDP: offer.SDP}); err != nil {
		return err
	}
	if err := c.Wait(ctx, "answer", c.locked(func() bool { return c.answered || len(c.errs) > errs })); err != nil {
		return err
	}
	if all := c.Errors(); len(all) > errs {
		return fmt.Errorf("offer refused: %s: %s", all[errs].Code, all[errs].Message)
	}
	return nil
}

// readRTCP turns keyframe requests for a sender into a keyframe.
func (m *publishedMedia) readRTCP(sender *webrtc.RTPSender) {
	defer m.wg.Done()
	for {
		pkts, _, err := sender.ReadRTCP()
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
}

// readSimulcastRTCP turns keyframe requests for one simulcast layer into
// a keyframe of that layer.
func (m *publishedMedia) readSimulcastRTCP(sender *webrtc.RTPSender, rid string, layer int) {
	defer m.wg.Done()
	for {
		pkts, _, err := sender.ReadSimulcastRTCP(rid)
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				m.keyframeRequests.Add(1)
				m.layerKeyframe[layer].Store(true)
			}
		}
	}
}

// StartScreen adds a screen share track to the publish connection, in a
// stream of its own, and renegotiates.
func (c *Client) StartScreen(ctx context.Context) error {
	c.mu.Lock()
	pc, m := c.pub, c.media
	c.mu.Unlock()
	if pc == nil || m == nil {
		return errNotPublishing
	}
	screen, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
	}, "screen", ScreenStream)
	if err != nil {
		return err
	}
	tr, err := pc.AddTransceiverFromTrack(screen, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return err
	}
	if err := c.negotiate(ctx); err != nil {
		return err
	}
	m.screenSender = tr.Sender()
	m.wg.Add(1)
	go m.readRTCP(tr.Sender())
	m.keyframe.Store(true)
	m.screen.Store(screen)
	return nil
}

// StopScreen removes the screen share and renegotiates.
func (c *Client) StopScreen(ctx context.Context) error {
	c.mu.Lock()
	pc, m := c.pub, c.media
	c.mu.Unlock()
	if m == nil || m.screenSender == nil {
		return fmt.Errorf("not sharing")
	}
	ssrc := uint32(m.screenSender.GetParameters().Encodings[0].SSRC)
	if c.opts.KeepScreenRTP {
		if !m.writers.has(ssrc) {
			return errNoRawWriter
		}
		m.orphanScreen.Store(ssrc)
	}
	m.screen.Store(nil)
	if err := pc.RemoveTrack(m.screenSender); err != nil {
		return err
	}
	m.screenSender = nil
	return c.negotiate(ctx)
}

// published reads one of the published media's counts, 0 before Publish.
func (c *Client) published(count func(*publishedMedia) *atomic.Int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.media == nil {
		return 0
	}
	return count(c.media).Load()
}

// ScreenPacketsSent is how many packets of screen share the client wrote,
// through its track or, with Options.KeepScreenRTP, after it.
func (c *Client) ScreenPacketsSent() int64 {
	return c.published(func(m *publishedMedia) *atomic.Int64 { return &m.screenSent })
}

// VideoPacketsSent is how many camera packets the client's default media
// wrote.
func (c *Client) VideoPacketsSent() int64 {
	return c.published(func(m *publishedMedia) *atomic.Int64 { return &m.videoSent })
}

// KeyframeRequests is how many keyframe requests the publisher received.
func (c *Client) KeyframeRequests() int64 {
	return c.published(func(m *publishedMedia) *atomic.Int64 { return &m.keyframeRequests })
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

// send is the default Media: synthetic audio with the client's audio level,
// VP8 video, and the screen share while there is one.
// microphone is where a publisher's audio stream is.
type microphone struct {
	seq     uint16
	ts      uint32
	payload [80]byte
}

// sendAudio writes the next audio packet, with m's audio level.
func (m *publishedMedia) sendAudio(audio *webrtc.TrackLocalStaticRTP, mic *microphone) {
	mic.seq++
	mic.ts += 960
	pkt := &rtp.Packet{
		Header:  rtp.Header{Version: 2, SequenceNumber: mic.seq, Timestamp: mic.ts, Marker: true},
		Payload: mic.payload[:],
	}
	if m.audioLevelID != 0 {
		_ = pkt.Header.SetExtension(m.audioLevelID, []byte{m.audioLevel})
	}
	_ = audio.WriteRTP(pkt)
}

func (m *publishedMedia) send(ctx context.Context, audio, video *webrtc.TrackLocalStaticRTP, keyframeRequested func() bool) {
	at := time.NewTicker(audioInterval)
	defer at.Stop()
	vt := time.NewTicker(videoInterval)
	defer vt.Stop()
	var vseq, sseq uint16
	var vts uint32
	var mic microphone
	lastKey := time.Time{}
	videoPayload := make([]byte, videoPacketBytes)
	for {
		select {
		case <-ctx.Done():
			return
		case <-at.C:
			m.sendAudio(audio, &mic)
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
				m.videoSent.Add(1)
				h := rtp.Header{Version: 2, SequenceNumber: sseq + 1, Timestamp: vts, Marker: i == n-1}
				if screen := m.screen.Load(); screen != nil {
					sseq++
					m.screenSent.Add(1)
					_ = screen.WriteRTP(&rtp.Packet{Header: h, Payload: p})
				} else if ssrc := m.orphanScreen.Load(); ssrc != 0 {
					sseq++
					m.screenSent.Add(1)
					_ = m.writers.write(ssrc, h, p)
				}
			}
		}
	}
}

// IsVP8Keyframe reports whether a payload written by this package, with
// its one-byte descriptor, belongs to a keyframe. Every packet of one of
// its keyframes says so (a real encoder's say it only in the first).
func IsVP8Keyframe(p []byte) bool {
	return len(p) >= 2 && p[1]&0x01 == 0
}
