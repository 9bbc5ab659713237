package sfu

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestLinkKeepsEarlyMediaOfTheAnswersTracks: on a node link the answering
// node attaches a new track to an m-section the offer left for it and
// sends as soon as it has answered, while the offering node may take the
// answer a while later. The offering node's track still gets every packet,
// from the first, in order: pion holds the packets of the SSRC it does not
// know yet, rather than read some of them away looking for a MID.
func TestLinkKeepsEarlyMediaOfTheAnswersTracks(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := NewAPI(Config{Loopback: true, Interfaces: []string{"lo"}, FastEgress: testFastEgress()}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	offerer, _, err := a.NewLinkConnection(true, log)
	if err != nil {
		t.Fatal(err)
	}
	defer offerer.Close()
	answerer, _, err := a.NewLinkConnection(false, log)
	if err != nil {
		t.Fatal(err)
	}
	defer answerer.Close()

	// The link is up, carrying the offerer's camera.
	for _, c := range []webrtc.RTPCodecCapability{{MimeType: webrtc.MimeTypeOpus}, {MimeType: webrtc.MimeTypeVP8}} {
		first, err := webrtc.NewTrackLocalStaticRTP(c, c.MimeType, "m.room.a_camera")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := offerer.AddTrack(first); err != nil {
			t.Fatal(err)
		}
	}
	connected := make(chan struct{})
	offerer.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	answer := offerAndAnswer(t, offerer, answerer, nil)
	if err := offerer.SetRemoteDescription(answer); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("the link did not connect")
	}

	// The offerer leaves an m-section for the answerer's track; the
	// answerer sends on it from its answer on, and the offerer takes the
	// answer 300 ms (15 packets) later.
	if _, err := offerer.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	const packets = 50
	got := make(chan uint16, packets)
	offerer.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			got <- p.SequenceNumber
		}
	})
	local, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio.second", "m.room.b_camera")
	if err != nil {
		t.Fatal(err)
	}
	track := &boundTrack{TrackLocalStaticRTP: local, bound: make(chan boundTo, 1)}
	sending := make(chan struct{})
	answer = offerAndAnswer(t, offerer, answerer, func() {
		if _, err := answerer.AddTrack(track); err != nil {
			t.Error(err)
		}
	})
	go func() {
		defer close(sending)
		to := <-track.bound
		for i := range packets {
			h := &rtp.Header{Version: 2, PayloadType: to.pt, SSRC: to.ssrc, SequenceNumber: uint16(1000 + i),
				Timestamp: uint32(960 * i)}
			// pion drops what is written before its sender is ready.
			for {
				n, err := to.w.WriteRTP(h, []byte{0xfc, 0xff, 0xfe})
				if err != nil {
					t.Error(err)
					return
				}
				if n > 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := offerer.SetRemoteDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-sending
	var seqs []uint16
	for len(seqs) < packets {
		select {
		case s := <-got:
			seqs = append(seqs, s)
			continue
		case <-time.After(2 * time.Second):
		}
		break
	}
	if len(seqs) != packets {
		t.Fatalf("the offerer's track got %d packets of %d: %v", len(seqs), packets, seqs)
	}
	for i, s := range seqs {
		if s != uint16(1000+i) {
			t.Fatalf("packet %d of the offerer's track is number %d, want %d: %v", i, s, 1000+i, seqs)
		}
	}
}

// boundTrack hands over what pion binds it to, to write to.
type boundTrack struct {
	*webrtc.TrackLocalStaticRTP
	bound chan boundTo
}

type boundTo struct {
	w    webrtc.TrackLocalWriter
	ssrc uint32
	pt   uint8
}

func (t *boundTrack) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	p, err := t.TrackLocalStaticRTP.Bind(c)
	if err == nil {
		select {
		case t.bound <- boundTo{c.WriteStream(), uint32(c.SSRC()), uint8(p.PayloadType)}:
		default:
		}
	}
	return p, err
}

// offerAndAnswer has offerer offer to answerer, without trickling, and
// returns the answer, which answerer has set; attach runs on answerer
// once it has the offer, before it answers.
func offerAndAnswer(t *testing.T, offerer, answerer *webrtc.PeerConnection, attach func()) webrtc.SessionDescription {
	t.Helper()
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	if attach != nil {
		attach()
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return *answerer.LocalDescription()
}
