package sfu

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// TestOwnSocketSubscribeConnection: with one shared UDP port and a port
// range, a subscribe connection offers candidates on the shared port, and
// one made by NewOwnSocketSubscribeConnection on ports of the range only.
func TestOwnSocketSubscribeConnection(t *testing.T) {
	l, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	shared := l.LocalAddr().(*net.UDPAddr).Port
	_ = l.Close()
	const lo, hi = 42000, 42999
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := NewAPI(Config{Loopback: true, Interfaces: []string{"lo"}, UDPPort: shared, UDPPortMin: lo, UDPPortMax: hi, FastEgress: true}, log)
	if err != nil {
		t.Skipf("UDP port %d was taken meanwhile: %v", shared, err)
	}
	defer a.Close()

	sub, err := a.NewSubscribeConnection()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	own, eg, err := a.NewOwnSocketSubscribeConnection(log)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if eg == nil || (a.FastEgress() && eg.fast == nil) {
		t.Errorf("egress %+v: want meetd's", eg)
	}
	for _, c := range []struct {
		name   string
		pc     *webrtc.PeerConnection
		inPort func(int) bool
	}{
		{"subscribe", sub, func(p int) bool { return p == shared }},
		{"own socket", own, func(p int) bool { return p != shared && p >= lo && p <= hi }},
	} {
		ports := udpCandidatePorts(t, c.pc)
		if len(ports) == 0 {
			t.Errorf("%s: no UDP candidates", c.name)
		}
		for _, p := range ports {
			if !c.inPort(p) {
				t.Errorf("%s: a UDP candidate on port %d (shared %d, range %d-%d)", c.name, p, shared, lo, hi)
			}
		}
	}
}

// udpCandidatePorts are the ports of the UDP candidates pc offers.
func udpCandidatePorts(t *testing.T, pc *webrtc.PeerConnection) []int {
	t.Helper()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	var ports []int
	for _, line := range strings.Split(pc.LocalDescription().SDP, "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "a=candidate:"))
		if !strings.HasPrefix(line, "a=candidate:") || len(f) < 6 || !strings.EqualFold(f[2], "udp") {
			continue
		}
		p, err := strconv.Atoi(f[5])
		if err != nil {
			t.Fatalf("candidate %q: %v", line, err)
		}
		ports = append(ports, p)
	}
	return ports
}
