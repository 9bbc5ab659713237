package sfu

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// simulcastRIDs are the layers simulcastPublisher sends, smallest first.
var simulcastRIDs = []string{"q", "h", "f"}

// simulcastPublisher connects a pion client that sends a simulcast camera
// (simulcastRIDs, each packet tagged with the MID and its RID) to a
// publish connection of a, over loopback, and returns the publish
// connection with the layers it received and their receiver. Sending
// stops, and both connections close, when the test ends.
func simulcastPublisher(t *testing.T, a *API) (*webrtc.PeerConnection, map[string]*webrtc.TrackRemote, *webrtc.RTPReceiver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)

	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
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
	// Closing the connections ends the sender and pion's tracks; stop
	// waits for the sender.
	sent := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-sent
		_ = client.Close()
		_ = server.Close()
	})

	var layers []*webrtc.TrackLocalStaticRTP
	for _, rid := range simulcastRIDs {
		l, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"video", "camera", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	tr, err := client.AddTransceiverFromTrack(layers[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers[1:] {
		if err := tr.Sender().AddEncoding(l); err != nil {
			t.Fatal(err)
		}
	}
	type received struct {
		remote   *webrtc.TrackRemote
		receiver *webrtc.RTPReceiver
	}
	arrived := make(chan received, len(layers))
	server.OnTrack(func(remote *webrtc.TrackRemote, r *webrtc.RTPReceiver) { arrived <- received{remote, r} })

	negotiate(t, client, server)

	var midID, ridID uint8
	for _, e := range tr.Sender().GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	go func() {
		defer close(sent)
		tick := time.NewTicker(30 * time.Millisecond)
		defer tick.Stop()
		payload := make([]byte, 100)
		payload[0] = 0x10 // VP8 descriptor: start of partition 0; a keyframe
		for seq := uint16(0); ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for i, l := range layers {
				p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, Payload: payload}
				_ = p.Header.SetExtension(midID, []byte(tr.Mid()))
				_ = p.Header.SetExtension(ridID, []byte(simulcastRIDs[i]))
				_ = l.WriteRTP(p)
			}
		}
	}()

	remotes := map[string]*webrtc.TrackRemote{}
	var receiver *webrtc.RTPReceiver
	for len(remotes) < len(layers) {
		select {
		case r := <-arrived:
			remotes[r.remote.RID()], receiver = r.remote, r.receiver
		case <-ctx.Done():
			t.Fatalf("layers received: %v", slices.Sorted(maps.Keys(remotes)))
		}
	}
	return server, remotes, receiver
}

// TestLayerAnnouncedAgainIsIgnored: pion announces a simulcast layer again,
// with the same remote track, when a second stream with its RID arrives
// (a publisher's retransmissions marked with the RID rather than the
// repaired RID). The track keeps one layer per RID, read by one loop.
func TestLayerAnnouncedAgainIsIgnored(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := NewAPI(Config{Loopback: true, Interfaces: []string{"lo"}, FastEgress: testFastEgress()}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pc, remotes, receiver := simulcastPublisher(t, a)

	tr := a.NewTrack(pc, remotes["q"], receiver, "camera", log)
	go tr.Run()
	tr.AddLayer(remotes["f"], receiver)
	tr.AddLayer(remotes["h"], receiver)
	if got := tr.Layers(); !slices.Equal(got, simulcastRIDs) {
		t.Fatalf("layers %v, want %v", got, simulcastRIDs)
	}
	for _, rid := range simulcastRIDs {
		tr.AddLayer(remotes[rid], receiver)
	}
	if got := tr.Layers(); !slices.Equal(got, simulcastRIDs) {
		t.Errorf("layers after each was announced again: %v, want %v", got, simulcastRIDs)
	}
}

// negotiate has client offer to server, without trickling: each side's
// description carries its candidates.
func negotiate(t *testing.T, client, server *webrtc.PeerConnection) {
	t.Helper()
	if err := client.SetRemoteDescription(offerAndAnswer(t, client, server, nil)); err != nil {
		t.Fatal(err)
	}
}
