package testclient

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// SimulcastLayer is one layer a simulcast test publisher sends.
type SimulcastLayer struct {
	RID           string
	Width, Height int
	// Marker is the byte at SimulcastMarkerAt of every payload of the layer.
	Marker byte
}

// SimulcastLayers are the layers of Options.Simulcast, smallest first.
var SimulcastLayers = []SimulcastLayer{
	{RID: "q", Width: 320, Height: 180, Marker: 'q'},
	{RID: "h", Width: 640, Height: 360, Marker: 'h'},
	{RID: "f", Width: 1280, Height: 720, Marker: 'f'},
}

// SimulcastMarkerAt is where a simulcast payload carries its layer's marker.
const SimulcastMarkerAt = 20

// VP8 payload descriptor of the simulcast layers: X, then I (15-bit
// picture id) and L (TL0PICIDX).
const simulcastDescriptorSize = 5

// VP8Picture reads the picture id and TL0PICIDX of a payload sent by a
// simulcast test publisher (and forwarded by meetd).
func VP8Picture(p []byte) (pictureID uint16, tl0 uint8, ok bool) {
	if len(p) < simulcastDescriptorSize || p[0]&0x80 == 0 || p[1]&0xc0 != 0xc0 || p[2]&0x80 == 0 {
		return 0, 0, false
	}
	return uint16(p[2]&0x7f)<<8 | uint16(p[3]), p[4], true
}

// Layers are the active lists of the layers messages meetd sent the
// client, oldest first.
func (c *Client) Layers() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.layers)
}

// WaitLayers waits until meetd's last layers message says active.
func (c *Client) WaitLayers(ctx context.Context, active ...string) error {
	return c.Wait(ctx, fmt.Sprintf("layers %v", active), c.locked(func() bool {
		return len(c.layers) > 0 && slices.Equal(c.layers[len(c.layers)-1], active)
	}))
}

// setActive pauses the simulcast layers in paused and resumes the others,
// each with a keyframe, as the web app does; without a paused list (nil),
// it pauses those not in active.
func (m *publishedMedia) setActive(active, pausedRIDs []string) {
	for i, l := range SimulcastLayers {
		if i >= len(m.layerPaused) {
			return
		}
		paused := !slices.Contains(active, l.RID)
		if pausedRIDs != nil {
			paused = slices.Contains(pausedRIDs, l.RID)
		}
		if m.layerPaused[i].Swap(paused) && !paused {
			m.layerKeyframe[i].Store(true)
		}
	}
}

// simulcastIDs are the negotiated ids of the MID and RID header
// extensions, which pion's sender leaves to the application, and the MID.
type simulcastIDs struct {
	midID, ridID uint8
	mid          string
}

// SimulcastMedia writes a simulcast publisher's audio and layers until
// ctx ends.
type SimulcastMedia func(ctx context.Context, audio *webrtc.TrackLocalStaticRTP, video *SimulcastSender)

// SimulcastSender writes the layers of a simulcast publisher, in the
// order of SimulcastLayers, and tells what meetd asked of them.
type SimulcastSender struct {
	m      *publishedMedia
	layers []*webrtc.TrackLocalStaticRTP
	ids    simulcastIDs
}

// WriteRTP sends pkt on layer i, tagged with the MID and the layer's RID.
func (s *SimulcastSender) WriteRTP(i int, pkt *rtp.Packet) error {
	if s.ids.midID != 0 {
		if err := pkt.Header.SetExtension(s.ids.midID, []byte(s.ids.mid)); err != nil {
			return err
		}
	}
	if s.ids.ridID != 0 {
		if err := pkt.Header.SetExtension(s.ids.ridID, []byte(SimulcastLayers[i].RID)); err != nil {
			return err
		}
	}
	return s.layers[i].WriteRTP(pkt)
}

// KeyframeRequested reports, and clears, whether meetd asked for a
// keyframe of layer i or resumed it since the last call.
func (s *SimulcastSender) KeyframeRequested(i int) bool { return s.m.layerKeyframe[i].Swap(false) }

// Paused reports whether meetd asked to stop sending layer i.
func (s *SimulcastSender) Paused(i int) bool { return s.m.layerPaused[i].Load() }

// sendSimulcast writes audio and three VP8 layers, each with its own
// sequence numbers, timestamps, picture ids and TL0PICIDX (as a browser's
// encoders do), and a keyframe in every layer every keyframeEvery and on
// every keyframe request.
func sendSimulcast(ctx context.Context, audio *webrtc.TrackLocalStaticRTP, video *SimulcastSender) {
	sendSimulcastHolding(ctx, audio, video, -1, nil)
}

// SimulcastLate is the usual simulcast media, except that layer held is
// not sent before start is closed: a publisher whose encoder starts one
// layer late, or that keeps it back until meetd asks for it.
func SimulcastLate(held int, start <-chan struct{}) SimulcastMedia {
	return func(ctx context.Context, audio *webrtc.TrackLocalStaticRTP, video *SimulcastSender) {
		sendSimulcastHolding(ctx, audio, video, held, start)
	}
}

// sendSimulcastHolding is sendSimulcast holding back layer held (-1 for
// none) until start is closed.
func sendSimulcastHolding(ctx context.Context, audio *webrtc.TrackLocalStaticRTP, video *SimulcastSender,
	held int, start <-chan struct{},
) {
	holding := func(li int) bool {
		if li != held {
			return false
		}
		select {
		case <-start:
			return false
		default:
			return true
		}
	}
	layers := video.layers
	at := time.NewTicker(audioInterval)
	defer at.Stop()
	vt := time.NewTicker(videoInterval)
	defer vt.Stop()
	type state struct {
		seq uint16
		ts  uint32
		pic uint16
		tl0 uint8
	}
	// Different starting points, so that forwarding them as they are
	// would show.
	st := make([]state, len(layers))
	for i := range st {
		st[i] = state{seq: uint16(1000 * (i + 1)), ts: uint32(100000 * (i + 1)), pic: uint16(3000*i + 32700), tl0: uint8(80 * i)}
	}
	var mic microphone
	lastKey := make([]time.Time, len(layers))
	payload := make([]byte, videoPacketBytes)
	for {
		select {
		case <-ctx.Done():
			return
		case <-at.C:
			video.m.sendAudio(audio, &mic)
		case now := <-vt.C:
			for li := range layers {
				if video.Paused(li) || holding(li) {
					st[li].ts += 3000
					continue
				}
				key := video.KeyframeRequested(li) || now.Sub(lastKey[li]) >= keyframeEvery
				if key {
					lastKey[li] = now
				}
				s := &st[li]
				s.ts += 3000
				s.pic = (s.pic + 1) & 0x7fff
				s.tl0++
				// Bigger layers take more packets a frame.
				n := 1 + li
				if key {
					n *= 3
				}
				for i := range n {
					s.seq++
					p := payload
					clear(p[:SimulcastMarkerAt])
					p[0] = 0x80 // X
					if i == 0 {
						p[0] |= 0x10 // S: start of partition 0
					}
					p[1] = 0xc0 // I, L
					p[2] = 0x80 | byte(s.pic>>8)
					p[3] = byte(s.pic)
					p[4] = s.tl0
					if i == 0 {
						f := p[simulcastDescriptorSize:]
						f[0] = 0x11 // frame tag: shown, P=1 (interframe)
						if key {
							f[0] = 0x10
							f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
							w, h := SimulcastLayers[li].Width, SimulcastLayers[li].Height
							f[6], f[7], f[8], f[9] = byte(w), byte(w>>8), byte(h), byte(h>>8)
						}
					}
					p[SimulcastMarkerAt] = SimulcastLayers[li].Marker
					pkt := &rtp.Packet{
						Header:  rtp.Header{Version: 2, SequenceNumber: s.seq, Timestamp: s.ts, Marker: i == n-1},
						Payload: p,
					}
					_ = video.WriteRTP(li, pkt)
				}
			}
		}
	}
}
