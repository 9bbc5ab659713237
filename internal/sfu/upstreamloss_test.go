package sfu

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// audioPublisher connects a pion client that sends an Opus track, 20 ms a
// packet, to a publish connection of a over loopback. It returns the
// publish connection, the track meetd received and its receiver, and the
// client's sender, whose RTCP (meetd's reports) the test reads. All
// closes when the test ends.
func audioPublisher(t *testing.T, a *API) (*webrtc.PeerConnection, *webrtc.TrackRemote, *webrtc.RTPReceiver, *webrtc.RTPSender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	client, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	server, err := a.NewPublishConnection()
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-sent
		_ = client.Close()
		_ = server.Close()
	})
	mic, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"audio", "mic")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := client.AddTrack(mic)
	if err != nil {
		t.Fatal(err)
	}
	type received struct {
		remote   *webrtc.TrackRemote
		receiver *webrtc.RTPReceiver
	}
	arrived := make(chan received, 1)
	server.OnTrack(func(remote *webrtc.TrackRemote, r *webrtc.RTPReceiver) { arrived <- received{remote, r} })

	negotiate(t, client, server)
	go func() {
		defer close(sent)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		payload := make([]byte, 60)
		for seq := uint16(0); ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			_ = mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: payload})
		}
	}()
	select {
	case r := <-arrived:
		return server, r.remote, r.receiver, sender
	case <-ctx.Done():
		t.Fatal("meetd received no audio track")
	}
	return nil, nil, nil, nil
}

// TestPublisherHearsViewersAudioLoss: the receiver reports meetd sends a
// publisher of audio carry the worst loss its subscribers report, so
// that the publisher's Opus encoder adds in-band FEC; the loss between
// the publisher and meetd (none here) alone would leave it off.
func TestPublisherHearsViewersAudioLoss(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := NewAPI(Config{Loopback: true, Interfaces: []string{"lo"}, FastEgress: testFastEgress()}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pc, remote, receiver, sender := audioPublisher(t, a)
	tr := a.NewTrack(pc, remote, receiver, "mic", log)
	go tr.Run()

	// Two subscribers: one reports 10% lost, the other 2%.
	lossy, clean := subscribe(tr, 2222, 111, discard{}), subscribe(tr, 3333, 111, discard{})
	const lost = 26 // of 256
	ssrc := uint32(sender.GetParameters().Encodings[0].SSRC)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			lossy.noteReports([]rtcp.ReceptionReport{{SSRC: 2222, FractionLost: lost}})
			clean.noteReports([]rtcp.ReceptionReport{{SSRC: 3333, FractionLost: 5}})
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
	var seen []uint8
	for ctx.Err() == nil {
		_ = sender.SetReadDeadline(time.Now().Add(time.Second))
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			continue
		}
		for _, p := range pkts {
			rr, ok := p.(*rtcp.ReceiverReport)
			if !ok {
				continue
			}
			for _, r := range rr.Reports {
				if r.SSRC != ssrc {
					continue
				}
				if r.FractionLost == lost {
					return
				}
				seen = append(seen, r.FractionLost)
			}
		}
	}
	t.Fatalf("meetd's receiver reports of the audio said fraction lost %v, want %d (the worst subscriber's)", seen, lost)
}
