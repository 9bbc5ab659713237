package testclient

import (
	"errors"
	"strings"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
)

func (c *Client) handleOffer(sdp string) error {
	c.mu.Lock()
	sub := c.sub
	c.mu.Unlock()
	if c.opts.Plain || sub == nil || sub.ConnectionState() == webrtc.PeerConnectionStateClosed {
		pc, err := c.api.NewPeerConnection(c.configuration())
		if err != nil {
			return err
		}
		pc.OnICECandidate(c.candidateHandler(signal.TargetSubscribe))
		pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
			// Reading RTCP lets the interceptors see meetd's sender
			// reports, which receiver reports refer to, as a browser's do.
			if c.opts.OnSenderReport != nil {
				go readReports(t, r, c.opts.OnSenderReport)
			} else {
				go drainRTCP(r)
			}
			if c.opts.OnTrack != nil {
				go c.opts.OnTrack(t)
				return
			}
			go c.count(t)
		})
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateClosed {
				c.mu.Lock()
				c.changedLocked()
				c.mu.Unlock()
			}
		})
		if sub != nil {
			_ = sub.Close()
		}
		c.mu.Lock()
		c.sub = pc
		c.subs++
		c.mu.Unlock()
		sub = pc
	}
	if prev := sub.RemoteDescription(); prev != nil && iceUfrag(prev.SDP) != iceUfrag(sdp) {
		c.mu.Lock()
		c.subRestarts++
		c.changedLocked()
		c.mu.Unlock()
	}
	if err := sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	c.mu.Lock()
	c.changedLocked() // SubscribedStreams may have changed
	c.mu.Unlock()
	answer, err := sub.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := sub.SetLocalDescription(answer); err != nil {
		return err
	}
	return c.send(signal.Message{Type: signal.TypeAnswer, SDP: answer.SDP})
}

// readReports gives the sender reports of t that r receives to f until r
// stops. pion gives each receiver every compound packet that names its
// stream, with the reports of other streams.
func readReports(t *webrtc.TrackRemote, r *webrtc.RTPReceiver, f func(webrtc.RTPCodecType, *rtcp.SenderReport)) {
	for {
		pkts, _, err := r.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == uint32(t.SSRC()) {
				f(t.Kind(), sr)
			}
		}
	}
}

// closeSubscribeOnEnd closes the subscribe connection when meetd says the
// broadcast ended, as the web app does.
func (c *Client) closeSubscribeOnEnd(m signal.Message) {
	if c.opts.Plain || m.Live == nil || *m.Live {
		return
	}
	c.mu.Lock()
	sub := c.sub
	c.sub = nil
	c.mu.Unlock()
	if sub != nil {
		_ = sub.Close()
	}
}

// count reads a track until it ends, counting its packets.
func (c *Client) count(t *webrtc.TrackRemote) {
	kind := t.Kind()
	publisher, stream, _ := strings.Cut(t.StreamID(), "_")
	label := kind.String()
	if stream == ScreenStream {
		label = "screen"
	}
	first := true
	var last uint16
	for {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		c.mu.Lock()
		st := c.stats[kind]
		st.Packets++
		if c.from[publisher] == nil {
			c.from[publisher] = map[string]int{}
		}
		c.from[publisher][label]++
		if !first && pkt.SequenceNumber != last+1 {
			st.Gaps++
		}
		if first && kind == webrtc.RTPCodecTypeVideo {
			st.FirstIsKeyframe = append(st.FirstIsKeyframe, IsVP8Keyframe(pkt.Payload))
		}
		first, last = false, pkt.SequenceNumber
		st.SSRC, st.LastSeq = pkt.SSRC, pkt.SequenceNumber
		c.changedLocked()
		c.mu.Unlock()
	}
}

// SubscribedStreams are the streams ("ID_camera", "ID_screen") whose
// tracks meetd's last offer on the subscribe connection sends, one entry
// per track.
func (c *Client) SubscribedStreams() []string {
	c.mu.Lock()
	sub := c.sub
	c.mu.Unlock()
	if sub == nil {
		return nil
	}
	desc := sub.RemoteDescription()
	if desc == nil {
		return nil
	}
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(desc.SDP); err != nil {
		return nil
	}
	var streams []string
	for _, m := range parsed.MediaDescriptions {
		if _, sending := m.Attribute(webrtc.RTPTransceiverDirectionSendonly.String()); !sending {
			if _, sending = m.Attribute(webrtc.RTPTransceiverDirectionSendrecv.String()); !sending {
				continue
			}
		}
		if msid, ok := m.Attribute("msid"); ok {
			stream, _, _ := strings.Cut(msid, " ")
			streams = append(streams, stream)
		}
	}
	return streams
}

func drainRTCP(r *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.Read(buf); err != nil {
			return
		}
	}
}

// SendRTCP sends RTCP on the subscribe connection, as a receiver
// would: keyframe requests or NACKs of what meetd sent.
func (c *Client) SendRTCP(pkts ...rtcp.Packet) error {
	c.mu.Lock()
	sub := c.sub
	c.mu.Unlock()
	if sub == nil {
		return errors.New("no subscribe connection")
	}
	return sub.WriteRTCP(pkts)
}

// SRTPProfile names the SRTP protection profile of the subscribe connection
// ("SRTP_AEAD_AES_128_GCM"), or is empty before DTLS completes.
func (c *Client) SRTPProfile() string {
	c.mu.Lock()
	sub := c.sub
	c.mu.Unlock()
	if sub == nil {
		return ""
	}
	for _, s := range sub.GetStats() {
		if t, ok := s.(webrtc.TransportStats); ok && t.SRTPCipher != "" {
			return t.SRTPCipher
		}
	}
	return ""
}

// SubscribeConnection is the subscribe connection, nil before meetd's
// first offer.
func (c *Client) SubscribeConnection() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sub
}
