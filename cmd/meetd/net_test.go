package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/httpd"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

func TestRelayOnlyViewerPlaysThroughEmbeddedTURN(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{TLS: TLSConfig{SelfSigned: true}, TURN: TURNConfig{Enabled: true, Port: freePort(t), Lifetime: time.Hour}})
	url := "wss://" + m.Addr() + "/ws"
	https := testCAClient(t)
	defer https.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "default", testclient.Options{HTTPClient: https})
	defer pub.Close()

	for _, tc := range []struct{ name, prefix, transport string }{
		{"udp", "turn:", "?transport=udp"},
		{"tcp", "turn:", "?transport=tcp"},
		{"tls", "turns:", "?transport=tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := m.turn.Allocations()[tc.name]
			v := dial(t, ctx, url, testclient.Options{HTTPClient: https, Network: testclient.Network{
				ICEServers: true, Relay: true,
				ICEServerURL: func(u string) bool { return strings.HasPrefix(u, tc.prefix) && strings.HasSuffix(u, tc.transport) },
			}})
			defer v.Close()
			join(t, ctx, v, "default", signal.RoleAudience)
			waitMedia(t, ctx, "relay viewer", v)
			path, err := v.Path(signal.TargetSubscribe)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("path: %v", path)
			if path.LocalType != "relay" || path.RelayProtocol != tc.name {
				t.Errorf("path %v, want a relay reached over %s", path, tc.name)
			}
			if got := m.turn.Allocations()[tc.name]; got <= before {
				t.Errorf("meetd's TURN server made no %s allocation (%v)", tc.name, m.turn.Allocations())
			}
		})
	}
}

func TestJoinedCarriesShortLivedTURNCredentials(t *testing.T) {
	m := runMeetd(t, Config{TURN: TURNConfig{Enabled: true, Port: freePort(t), Lifetime: time.Hour}, ICEServers: []string{"stun:stun.example.org:3478"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dial(t, ctx, "ws://"+m.Addr()+"/ws", testclient.Options{})
	defer c.Close()
	join(t, ctx, c, "default", signal.RoleAudience)
	servers := c.ICEServers()
	if len(servers) != 2 || servers[1].URLs[0] != "stun:stun.example.org:3478" {
		t.Fatalf("ICE servers %+v: want meetd's TURN, then the configured STUN", servers)
	}
	turnServer := servers[0]
	expiry, id, ok := strings.Cut(turnServer.Username, ":")
	if !ok || id != c.ID() || turnServer.Credential == "" {
		t.Fatalf("TURN username %q: want EXPIRY:%s with a credential", turnServer.Username, c.ID())
	}
	var unix int64
	fmt.Sscan(expiry, &unix)
	if left := time.Until(time.Unix(unix, 0)); left < 59*time.Minute || left > 61*time.Minute {
		t.Errorf("credential expires in %v, want an hour", left)
	}
	host := strings.Split(m.Addr(), ":")[0]
	want := fmt.Sprintf("turn:%s:%d?transport=udp", host, m.Config.TURN.Port)
	if turnServer.URLs[0] != want || len(turnServer.URLs) != 2 {
		t.Errorf("TURN URLs %v, want %s and its TCP twin (no TLS over plain HTTP)", turnServer.URLs, want)
	}
}

func TestAllMediaOnOneUDPPort(t *testing.T) {
	checkLeaks(t)
	port := freePort(t)
	m := runMeetd(t, Config{SFU: sfu.Config{Loopback: true, Interfaces: []string{"lo"}, UDPPort: port}})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var clients []*testclient.Client
	var names []string
	for i := range 4 {
		name := fmt.Sprintf("p%d", i)
		c := joinMeeting(t, ctx, url, "one-port", testclient.Options{Name: name})
		defer c.Close()
		clients, names = append(clients, c), append(names, name)
	}
	waitAllMedia(t, ctx, clients, names, nil)
	for i, c := range clients {
		for _, target := range []string{signal.TargetPublish, signal.TargetSubscribe} {
			path, err := c.Path(target)
			if err != nil {
				t.Fatalf("%s %s: %v", names[i], target, err)
			}
			if path.Protocol != "udp" || path.RemotePort != port {
				t.Errorf("%s %s: path %v, want meetd's UDP port %d", names[i], target, path, port)
			}
		}
	}
	wantBatches(t, m)
	wantSendPaths(t, m, "every participant", 4, 0, 0)
	// Their receiver reports (one a second) are read at the socket.
	waitRTCPRead(t, ctx, m, sfu.RTCPAtSocket)
}

// TestMediaSharesOneSocketByDefault: with no UDP port given, media of all
// connections still goes through one socket, on a port the kernel chose.
func TestMediaSharesOneSocketByDefault(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{SFU: sfu.Config{Loopback: true, Interfaces: []string{"lo"}}})
	addrs := m.api.MediaAddrs()
	if len(addrs) != 1 {
		t.Fatalf("media sockets %v, want one on 127.0.0.1", addrs)
	}
	_, port, _ := strings.Cut(addrs[0], ":")
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	for i := range 2 {
		v := dial(t, ctx, url, testclient.Options{})
		defer v.Close()
		join(t, ctx, v, "default", signal.RoleAudience)
		waitMedia(t, ctx, fmt.Sprintf("viewer %d", i), v)
		path, err := v.Path(signal.TargetSubscribe)
		if err != nil {
			t.Fatal(err)
		}
		if path.Protocol != "udp" || strconv.Itoa(path.RemotePort) != port {
			t.Errorf("viewer %d: path %v, want meetd's media socket %s", i, path, addrs[0])
		}
	}
	wantBatches(t, m)
}

// wantBatches checks that the shared sockets sent media in batches from
// meetd's egress, when the fast egress is on, and none from it when it is
// off; and that the kernel refused none.
func wantBatches(t *testing.T, m *Main) {
	t.Helper()
	st := m.api.BatchStats()
	if st.Failed != 0 || (m.api.FastEgress() && (st.Batches == 0 || st.Sent == 0 || st.FromEgress == 0)) {
		t.Errorf("batched sends %+v, want some and no failures", st)
	}
	if !m.api.FastEgress() && st.FromEgress != 0 {
		t.Errorf("with the fast egress off, it sent %d datagrams", st.FromEgress)
	}
}

// wantSendPaths checks how many subscribe connections send on a shared
// socket, through ICE and through pion's write path: with the fast
// egress off, all of them through pion's.
func wantSendPaths(t *testing.T, m *Main, who string, shared, ice, pion int64) {
	t.Helper()
	if !m.api.FastEgress() {
		shared, ice, pion = 0, 0, shared+ice+pion
	}
	p := m.api.Counters().Snapshot().SendPaths
	if p[sfu.SendShared] != shared || p[sfu.SendICE] != ice || p[sfu.SendPion] != pion {
		t.Errorf("%s: subscribe connections sending on a shared socket %d, through ICE %d, through pion %d; want %d, %d, %d",
			who, p[sfu.SendShared], p[sfu.SendICE], p[sfu.SendPion], shared, ice, pion)
	}
}

// waitRTCPRead waits until meetd has read subscribers' RTCP where read
// says (through pion, with the fast egress off), and checks that none was
// dropped.
func waitRTCPRead(t *testing.T, ctx context.Context, m *Main, read sfu.RTCPRead) {
	t.Helper()
	if !m.api.FastEgress() {
		read = sfu.RTCPFromPion
	}
	waitUntil(t, ctx, "subscriber RTCP read "+fmt.Sprint(read), func() bool {
		return m.api.Counters().Snapshot().RTCPRead[read] > 0
	})
	if r := m.api.Counters().Snapshot().RTCPRead; r[sfu.RTCPDropped] != 0 {
		t.Errorf("subscribers' RTCP dropped: %d packets (read %v)", r[sfu.RTCPDropped], r)
	}
}

// TestSocketPerConnection: with a port range, each connection has
// sockets of its own; meetd's egress then writes through ICE.
func TestSocketPerConnection(t *testing.T) {
	checkLeaks(t)
	low := freePort(t)
	m := runMeetd(t, Config{SFU: sfu.Config{Loopback: true, Interfaces: []string{"lo"}, UDPPortMin: uint16(low), UDPPortMax: uint16(low + 20)}})
	if addrs := m.api.MediaAddrs(); len(addrs) != 0 {
		t.Fatalf("shared media sockets %v, want none", addrs)
	}
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	v := dial(t, ctx, url, testclient.Options{})
	defer v.Close()
	join(t, ctx, v, "default", signal.RoleAudience)
	waitMedia(t, ctx, "viewer", v)
	path, err := v.Path(signal.TargetSubscribe)
	if err != nil {
		t.Fatal(err)
	}
	if path.Protocol != "udp" || path.RemotePort < low || path.RemotePort > low+20 {
		t.Errorf("path %v, want a port of %d-%d", path, low, low+20)
	}
	wantSendPaths(t, m, "the viewer", 0, 1, 0)
	// Its RTCP goes through pion: only shared sockets are read by meetd.
	waitRTCPRead(t, ctx, m, sfu.RTCPFromPion)
	if n := m.api.Counters().Snapshot().RTCPRead[sfu.RTCPAtSocket]; n != 0 {
		t.Errorf("%d RTCP packets read at a shared socket, with none open", n)
	}
}

// TestPionWritePath: with the fast egress off (-fast-egress=false, or a
// pion version whose SRTP keys meetd cannot read), a subscriber's media
// and sender reports go through pion's write path, and its RTCP is read
// through pion: the viewer still plays, with nothing lost, and meetd's
// egress sends nothing.
func TestPionWritePath(t *testing.T) {
	checkLeaks(t)
	m := runMeetdEgress(t, Config{}, false)
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	var reports [2]atomic.Int64 // by kind: audio, video
	v := dial(t, ctx, url, testclient.Options{OnSenderReport: func(k webrtc.RTPCodecType, _ *rtcp.SenderReport) {
		reports[k-webrtc.RTPCodecTypeAudio].Add(1)
	}})
	defer v.Close()
	join(t, ctx, v, "default", signal.RoleAudience)
	waitMedia(t, ctx, "viewer", v)
	wantSendPaths(t, m, "the viewer", 0, 0, 1)
	waitUntil(t, ctx, "sender reports of audio and video", func() bool {
		return reports[0].Load() > 0 && reports[1].Load() > 0
	})
	waitRTCPRead(t, ctx, m, sfu.RTCPFromPion)
	if n := m.api.Counters().Snapshot().RTCPRead[sfu.RTCPAtSocket]; n != 0 {
		t.Errorf("%d RTCP packets read at the shared socket, on the pion path", n)
	}
	// Every packet the viewer got, pion wrote: it read them after.
	got := v.Stats(webrtc.RTPCodecTypeAudio).Packets + v.Stats(webrtc.RTPCodecTypeVideo).Packets
	if st := m.api.BatchStats(); st.FromEgress != 0 || st.PionRTP < uint64(got) {
		t.Errorf("meetd's egress wrote %d datagrams and pion %d RTP and RTCP; the viewer got %d packets, all pion's",
			st.FromEgress, st.PionRTP, got)
	}
}

func TestICETCPWhenUDPIsOff(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{SFU: sfu.Config{Loopback: true, Interfaces: []string{"lo"}, UDPPort: freePort(t), TCPPort: freePort(t)}})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := goLive(t, ctx, url, "default", testclient.Options{})
	defer pub.Close()
	v := dial(t, ctx, url, testclient.Options{Network: testclient.Network{TCP: true, NoUDP: true}})
	defer v.Close()
	join(t, ctx, v, "default", signal.RoleAudience)
	waitMedia(t, ctx, "TCP viewer", v)
	path, err := v.Path(signal.TargetSubscribe)
	if err != nil {
		t.Fatal(err)
	}
	if path.Protocol != "tcp" || path.RemotePort != m.Config.SFU.TCPPort {
		t.Errorf("path %v, want TCP to meetd's port %d", path, m.Config.SFU.TCPPort)
	}
	// Not a shared UDP socket: meetd's egress writes through ICE.
	wantSendPaths(t, m, "the TCP viewer", 0, 1, 0)
}

func TestSelfSignedHTTPS(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{TLS: TLSConfig{SelfSigned: true}})
	https := testCAClient(t)
	defer https.CloseIdleConnections()
	base := "https://" + m.Addr()
	for path, want := range map[string]string{"/": "<html", "/viewer": "<html", httpd.TrustPath: "SHA-256", "/meetd-ca.crt": "BEGIN CERTIFICATE"} {
		res, err := https.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(body)), strings.ToLower(want)) {
			t.Errorf("GET %s: %d %.80q, want 200 with %q", path, res.StatusCode, body, want)
		}
		if res.TLS == nil {
			t.Errorf("GET %s: not over TLS", path)
		}
	}
	// A client that does not trust the authority is turned away.
	untrusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if _, err := untrusting.Get(base + "/"); err == nil {
		t.Error("a client without the authority accepted the certificate")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dial(t, ctx, "wss://"+m.Addr()+"/ws", testclient.Options{HTTPClient: https})
	defer c.Close()
	join(t, ctx, c, "default", signal.RoleAudience)
	if err := c.Wait(ctx, "state", func() bool { _, ok := c.LastState(); return ok }); err != nil {
		t.Errorf("over wss: %v", err)
	}
}
