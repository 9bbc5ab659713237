// Package sfu forwards media: the pion API meetd builds its peer connections
// with, the tracks publishers send, and the per-subscriber down tracks they
// fan out to, with their layers, keyframes, retransmissions and sender
// reports. Media is forwarded as RTP, never decoded. Bandwidth estimation
// is in internal/bwe, meetd's own SRTP egress in internal/egress, and the
// shared UDP sockets in internal/udpbatch (docs/media-path.md).
package sfu

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/bwe"
	"github.com/meetd/meetd/internal/egress"
	"github.com/meetd/meetd/internal/udpbatch"
)

// Config is how peer connections gather candidates.
type Config struct {
	// Loopback makes meetd offer 127.0.0.1 candidates, so that clients on the
	// same machine connect even when loopback is its only network.
	Loopback bool
	// Interfaces, when not empty, lists the network interfaces to gather
	// candidates on; others are ignored.
	Interfaces []string
	// UDPPort, when not zero, is the one UDP port all media uses, on every
	// address (pion's UDP mux). It wins over UDPPortMin and UDPPortMax.
	// When all three are zero, media also shares one UDP socket per
	// address, on a port the kernel picks.
	UDPPort int
	// UDPPortMin and UDPPortMax, when not zero, bound the UDP ports of
	// sockets each connection opens for its own media: every connection
	// without UDPPort, those of NewOwnSocketSubscribeConnection with.
	UDPPortMin, UDPPortMax uint16
	// TCPPort, when not zero, is the port of ICE-TCP: clients that cannot
	// send UDP reach the SFU over TCP there.
	TCPPort int
	// PublicIPs are announced as host candidates in place of the local
	// addresses (for a server behind a 1:1 NAT).
	PublicIPs []string
	// FastEgress sends subscribers' media through meetd's own egress
	// (internal/egress), which seals it and writes it to the socket
	// around pion's write path; false (the default) leaves it to pion.
	FastEgress bool
	// AbsSendTime negotiates the abs-send-time header extension on
	// subscribers' video and stamps every packet forwarded with it, so
	// that browsers' receive-side estimates (REMB) see queueing delay.
	AbsSendTime bool
	// PionReadPath leaves every publisher's media to pion's read path,
	// as when meetd cannot read a pion version's SRTP keys (see Ingress).
	PionReadPath bool
	// TCPListener, when set, is ICE-TCP's listener, open already, in
	// place of one meetd opens on TCPPort (which must be its port).
	TCPListener net.Listener
	// Queue bounds what each subscriber may have waiting to be sent;
	// zero fields take the defaults.
	Queue QueueLimits
	// KeyframeInterval is the least time between two keyframe requests
	// to a publisher for one layer; 0 takes DefaultKeyframeInterval. Each
	// keyframe costs the forwarding of a large frame to every subscriber,
	// and a viewer who joins waits for one: up to this long.
	KeyframeInterval time.Duration
	// FanOutShard is the fewest subscribers of one layer a shard of its
	// fan-out is given: a layer with twice as many or more has its
	// fan-out split over up to GOMAXPROCS goroutines (shard.go). 0 takes
	// DefaultFanOutShard; negative never splits a fan-out.
	FanOutShard int
	// Probes is how many subscribers' links may be probed at once
	// (internal/bwe, probe.go) before their video steps up a layer; 0
	// takes DefaultProbes, negative probes none. ProbeRate is the most
	// padding, bits per second, a probe sends one subscriber; 0 takes
	// DefaultProbeRate.
	Probes    int
	ProbeRate int
}

// Probing defaults: a probe to the largest layer of a 720p camera from its
// smallest needs about 2.5 Mbit/s of padding; sixteen at once are at most
// 48 Mbit/s more for a few seconds.
const (
	DefaultProbes    = 16
	DefaultProbeRate = 3_000_000
)

// API creates peer connections that share one media setup and sockets.
type API struct {
	// publish makes the connections publishers send on, with the
	// interceptors of received streams; subscribe those meetd sends on,
	// with none.
	publish, subscribe *webrtc.API
	// ownSocket makes subscribe connections that open UDP sockets of
	// their own, off the shared ones (NewOwnSocketSubscribeConnection);
	// it is subscribe when there are no shared UDP sockets. link makes
	// node links (NewLinkConnection): publish's interceptors, on a media
	// engine without the simulcast header extensions; ownLink is link on
	// sockets of its own.
	ownSocket, link, ownLink *webrtc.API
	// closers are the shared sockets (UDP and TCP muxes) the API owns.
	closers  []io.Closer
	counters Counters
	// sockets are the shared UDP sockets, on which fan-outs batch their
	// writes; empty when each connection has sockets of its own.
	sockets *udpbatch.Sockets
	// reports sends the subscribe connections' sender reports.
	reports reportClock
	// fastEgress is Config.FastEgress, when this pion version allows it.
	fastEgress bool
	// pionReads is Config.PionReadPath.
	pionReads bool
	// received is the interceptors of received streams, which each
	// publish connection's Ingress builds.
	received *interceptor.Registry
	// ingresses are the publish connections' Ingresses, by connection.
	ingresses sync.Map
	// building serialises NewPublishConnection, in which pion builds the
	// connection's Ingress: built hands it over.
	building sync.Mutex
	built    *Ingress
	log      *slog.Logger
	// queueLimits bound each subscriber's send queue.
	queueLimits QueueLimits
	// certs is the DTLS certificate every peer connection shares.
	certs certificates
	// keyframeEvery is Config.KeyframeInterval, in nanoseconds.
	keyframeEvery int64
	// shardMin is Config.FanOutShard with its default; 0 for never.
	shardMin int
	// probes bounds the probing of subscribers' links (Config.Probes),
	// nil for none.
	probes *bwe.Probes
}

// Codecs meetd negotiates. Browsers all speak VP8, H.264 and Opus; keeping
// the list short means every publisher's codec can be forwarded to every
// subscriber as it is.
var (
	videoFeedback = []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	codecs = []struct {
		kind   webrtc.RTPCodecType
		params webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
				SDPFmtpLine: "minptime=10;useinbandfec=1",
			},
			PayloadType: 111,
		}},
		// Opus frames with redundancy (red.go), after Opus: offered to
		// subscribers, and preferred in answers to publishers that offer it.
		{webrtc.RTPCodecTypeAudio, redCodec},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback,
			},
			PayloadType: 96,
		}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96",
			},
			PayloadType: 97,
		}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFeedback,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			},
			PayloadType: 102,
		}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=102",
			},
			PayloadType: 103,
		}},
	}
)

// ICE timeouts. pion's defaults (5 s, 25 s, 2 s) leave a viewer whose
// network changed staring at a frozen picture for half a minute before
// anything restarts. With a keepalive every second, three silent seconds
// mean the path is gone (disconnected), and eight that it will not come
// back (failed): meetd restarts ICE on the subscribe connection then.
const (
	ICEDisconnectedTimeout = 3 * time.Second
	ICEFailedTimeout       = 8 * time.Second
	ICEKeepalive           = time.Second
)

// iceMaxBindingRequests keeps meetd checking a candidate pair for as long as
// a connection may be checking (pion checks each pair every 200 ms until
// one works). With pion's default of 7 a pair counts as failed after about
// 1.4 s and is never checked again; on the subscribe connection, where meetd
// controls ICE, a path that comes back later (after an ICE restart made
// while it was down) then stays unused until ICE fails and restarts again.
const iceMaxBindingRequests = uint16((ICEDisconnectedTimeout + ICEFailedTimeout) / (200 * time.Millisecond))

// AudioLevelURI is the RTP header extension carrying a packet's audio level (RFC 6464).
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// mediaEngine registers meetd's codecs and header extensions; simulcast
// adds those that tell a simulcast publisher's layers apart.
func mediaEngine(cfg Config, simulcast bool) (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.params, c.kind); err != nil {
			return nil, fmt.Errorf("register codec %s: %w", c.params.MimeType, err)
		}
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: AudioLevelURI},
		webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverDirectionRecvonly); err != nil {
		return nil, fmt.Errorf("register audio level: %w", err)
	}
	// Simulcast publishers tag each layer's packets with its RID (and the
	// MID), which is how pion tells the layers apart. Receive only: meetd
	// sends each subscriber one layer as a plain stream.
	if simulcast {
		for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri},
				webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverDirectionRecvonly); err != nil {
				return nil, fmt.Errorf("register simulcast header extension: %w", err)
			}
		}
	}
	if cfg.AbsSendTime {
		// Send only: what publishers send needs no stamp from meetd.
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.ABSSendTimeURI},
			webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverDirectionSendonly); err != nil {
			return nil, fmt.Errorf("register abs-send-time: %w", err)
		}
	}
	return m, nil
}

// NewAPI builds the pion API for cfg. log tells of media sockets' errors.
func NewAPI(cfg Config, log *slog.Logger) (*API, error) {
	m, err := mediaEngine(cfg, true)
	if err != nil {
		return nil, err
	}
	// A node link carries no simulcast stream (each layer crosses as a
	// track of its own, its SSRC in the SDP), so it negotiates neither
	// the MID nor the RIDs. Without them pion leaves the packets of an
	// SSRC its remote description does not name yet to wait for the
	// description that does: the answering node sends a new track as soon
	// as it has answered, before the offering node has taken the answer.
	// With the MID negotiated, pion would read up to ten of those packets
	// looking for one, alongside the track's own reader once the answer
	// came, and the track would lose every other packet as it starts.
	lm, err := mediaEngine(cfg, false)
	if err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureTWCCSender(lm, &interceptor.Registry{}); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	ir, err := interceptors(m)
	if err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}

	s := webrtc.SettingEngine{}
	s.SetIncludeLoopbackCandidate(cfg.Loopback)
	if len(cfg.Interfaces) > 0 {
		names := slices.Clone(cfg.Interfaces)
		s.SetInterfaceFilter(func(name string) bool { return slices.Contains(names, name) })
	}
	s.SetIPFilter(notLinkLocal)
	a := &API{sockets: &udpbatch.Sockets{}, fastEgress: cfg.FastEgress, pionReads: cfg.PionReadPath,
		queueLimits: cfg.Queue.orDefaults(), keyframeEvery: int64(cfg.KeyframeInterval), received: ir, log: log}
	a.reports.batch = a.sockets
	a.probes = newProbes(cfg)
	a.counters.probes = a.probes
	switch a.shardMin = cfg.FanOutShard; {
	case a.shardMin == 0:
		a.shardMin = DefaultFanOutShard
	case a.shardMin < 0:
		a.shardMin = 0
	}
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	switch {
	case cfg.UDPPort == 0 && (cfg.UDPPortMin != 0 || cfg.UDPPortMax != 0):
		if err := s.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("udp port range: %w", err)
		}
	default:
		mux, err := a.sharedUDP(cfg, log)
		switch {
		case err == nil:
			s.SetICEUDPMux(mux)
		case cfg.UDPPort != 0:
			return nil, fmt.Errorf("media UDP port %d: %w", cfg.UDPPort, err)
		default:
			log.Warn("cannot open the shared media UDP sockets; each connection opens its own", "err", err)
		}
	}
	if cfg.TCPPort != 0 {
		ln := cfg.TCPListener
		if ln == nil {
			var err error
			ln, err = net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.TCPPort)))
			if err != nil {
				a.Close()
				return nil, fmt.Errorf("media TCP port %d: %w", cfg.TCPPort, err)
			}
		}
		// No write buffer: pion's (webrtc.NewICETCPMux sets 4 MB) would
		// hold seconds of media for a viewer that stopped reading, to be
		// played late once it reads again. A fan-out must never wait for
		// one subscriber: that is meetd's own doing, not pion's, as
		// every packet to a path that can block (this one, TURN, a
		// socket of the connection's own, pion's write path) goes
		// through the subscriber's bounded send queue (sendqueue.go),
		// whose writer alone waits on the socket. The socket's buffer
		// is bounded too (tcpSendBuffer).
		mux := ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener:       smallSendBuffers{ln},
			Logger:         logging.NewDefaultLoggerFactory().NewLogger("ice"),
			ReadBufferSize: 8,
		})
		a.closers = append(a.closers, mux)
		s.SetICETCPMux(mux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	if len(cfg.PublicIPs) > 0 {
		for _, ip := range cfg.PublicIPs {
			if net.ParseIP(ip) == nil {
				return nil, fmt.Errorf("public IP %q is not an IP address", ip)
			}
		}
		s.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	agents, err := newAgentNet()
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("network: %w", err)
	}
	s.SetNet(agents)
	// Browsers that hide their addresses behind mDNS names still send
	// connectivity checks to meetd, which learns their real address from
	// them; meetd need not resolve names on the local network.
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// AES-GCM costs the least per packet with AES-NI, and 128-bit keys less
	// than 256-bit ones; the others stay for clients that lack it.
	s.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	// UDP over IPv4 and IPv6; TCP only with ICE-TCP's listener, and only
	// passive: meetd waits for clients to connect.
	s.SetNetworkTypes(networks)
	s.DisableActiveTCP(true)
	s.SetICETimeouts(ICEDisconnectedTimeout, ICEFailedTimeout, ICEKeepalive)
	s.SetICEMaxBindingRequests(iceMaxBindingRequests)

	// A publish connection's one interceptor is its Ingress, which runs
	// the interceptors of received streams (ir) for each.
	publishInterceptors := &interceptor.Registry{}
	publishInterceptors.Add(ingressFactory{a})
	a.publish = webrtc.NewAPI(
		webrtc.WithMediaEngine(m),
		webrtc.WithInterceptorRegistry(publishInterceptors),
		webrtc.WithSettingEngine(s),
	)
	// A subscribe connection receives no media: the interceptors of
	// received streams would only tick (the NACK generator ten times a
	// second) for each subscriber. Each connection copies the media
	// engine, so the two can share it. The registry must be given, empty:
	// without one pion registers its defaults, into the media engine too.
	//
	// The fast egress depends on this rule: pion never writes RTP or
	// SRTCP on a subscribe connection. The egress keeps the connection's
	// SRTP state itself (each SSRC's rollover counter, the one SRTCP
	// index), so a packet pion encrypted with its own would give the
	// subscriber two streams of indexes, one dropped as replays. It holds
	// as long as:
	//   - this API has no interceptors: nothing of pion's sends sender or
	//     receiver reports, answers NACKs, or pads;
	//   - meetd makes the sender reports (Reporter) and answers NACKs
	//     (DownTrack.resend), and sends both through the egress;
	//   - down tracks write through the egress, and through pion's writer
	//     only when the egress hands a packet back (it has no keys, and
	//     then pion sends everything);
	//   - nothing calls WriteRTCP on a subscribe connection but Reporter,
	//     when the egress hands the reports back.
	// A pion version that sent anything of its own there (interceptors
	// by default, RTCP or probes from its sender) would break it:
	// TestPionWritesNoMediaOnSubscribeConnections fails then, and meetd
	// logs it (udpbatch counts it: PionMedia). -fast-egress=false is the
	// way out.
	a.subscribe = webrtc.NewAPI(
		webrtc.WithMediaEngine(m),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
		webrtc.WithSettingEngine(s),
	)
	a.link = webrtc.NewAPI(
		webrtc.WithMediaEngine(lm),
		webrtc.WithInterceptorRegistry(publishInterceptors),
		webrtc.WithSettingEngine(linkSettings(s, log)),
	)
	a.ownSocket, a.ownLink = a.subscribe, a.link
	if len(a.sockets.Conns) > 0 {
		// As the shared setting engine, without the UDP mux: pion
		// listens on each address, in the port range when one is given.
		own := s
		own.SetICEUDPMux(nil)
		if err := own.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			a.Close()
			return nil, fmt.Errorf("udp port range: %w", err)
		}
		a.ownSocket = webrtc.NewAPI(
			webrtc.WithMediaEngine(m),
			webrtc.WithInterceptorRegistry(&interceptor.Registry{}),
			webrtc.WithSettingEngine(own),
		)
		a.ownLink = webrtc.NewAPI(
			webrtc.WithMediaEngine(lm),
			webrtc.WithInterceptorRegistry(publishInterceptors),
			webrtc.WithSettingEngine(linkSettings(own, log)),
		)
	}
	if a.fastEgress && !egress.Available() {
		a.fastEgress = false
		log.Warn("this pion version hides the SRTP keys: media is sent through pion's write path")
	}
	return a, nil
}

// BatchStats counts what the shared UDP sockets sent in batches.
type BatchStats = udpbatch.Stats

// BatchStats counts what the shared UDP sockets sent in batches.
func (a *API) BatchStats() BatchStats { return a.sockets.Stats() }

// FastEgress reports whether subscribers' media goes through meetd's own
// egress (Config.FastEgress, when this pion version allows it).
func (a *API) FastEgress() bool { return a.fastEgress }

// sharedUDPBuffer is the socket buffer size asked for the shared UDP
// sockets, each way: they carry every participant's media, where each
// connection's own socket would carry one's. The kernel caps it at
// net.core.rmem_max and wmem_max.
const sharedUDPBuffer = 4 << 20

// sharedUDP opens one UDP socket per local address, on cfg.UDPPort (0: a
// port the kernel picks for each), that all peer connections share; their
// writes batch (see udpbatch).
func (a *API) sharedUDP(cfg Config, log *slog.Logger) (ice.UDPMux, error) {
	// Link-local IPv6 addresses are useless for media, and binding one
	// fails while the kernel still checks it is unique.
	opts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithIPFilter(notLinkLocal),
		ice.UDPMuxFromPortWithReadBufferSize(sharedUDPBuffer),
		ice.UDPMuxFromPortWithWriteBufferSize(sharedUDPBuffer),
	}
	if cfg.Loopback {
		opts = append(opts, ice.UDPMuxFromPortWithLoopback())
	}
	if len(cfg.Interfaces) > 0 {
		names := slices.Clone(cfg.Interfaces)
		opts = append(opts, ice.UDPMuxFromPortWithInterfaceFilter(func(name string) bool { return slices.Contains(names, name) }))
	}
	std, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	bn := &udpbatch.Net{Net: std, Log: log}
	opts = append(opts, ice.UDPMuxFromPortWithNet(bn))
	mux, err := ice.NewMultiUDPMuxFromPort(cfg.UDPPort, opts...)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, mux)
	a.sockets.Conns = bn.Sockets.Conns
	return mux, nil
}

// MediaAddrs are the addresses of the shared UDP sockets media uses, none
// when each connection has its own.
func (a *API) MediaAddrs() []string {
	var addrs []string
	for _, c := range a.sockets.Conns {
		addrs = append(addrs, c.LocalAddr().String())
	}
	return addrs
}

// tcpSendBuffer is the kernel's send buffer asked for each ICE-TCP
// connection (the kernel doubles it): without, it grows to megabytes for
// a viewer that stops reading, all of it stale when it reads again.
const tcpSendBuffer = 64 << 10

// smallSendBuffers gives the connections it accepts a send buffer of
// tcpSendBuffer.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(interface{ SetWriteBuffer(int) error }); ok {
		_ = tc.SetWriteBuffer(tcpSendBuffer)
	}
	return c, err
}

func notLinkLocal(ip net.IP) bool { return !ip.IsLinkLocalUnicast() }

// Counters are what the media path of the API's peer connections did.
func (a *API) Counters() *Counters { return &a.counters }

// Close closes the media sockets the API shares between peer connections.
func (a *API) Close() {
	for _, c := range a.closers {
		_ = c.Close()
	}
	a.closers = nil
}

// interceptors registers the per-stream RTP and RTCP work pion does on
// publish connections. Most of pion's defaults do work on every packet
// meetd sends to every subscriber; meetd keeps only what earns its cost:
// NACKs for what publishers lose, receiver reports, and transport-wide
// congestion control feedback so that browsers raise their bitrate: all
// on the publisher's incoming streams, once per published packet.
//
// Subscribe connections have none, as every packet would pay for them
// once per subscriber. Not kept: the NACK responder,
// which copies every packet into a buffer of its own per subscriber (Track
// keeps one cache for all subscribers and answers NACKs from it), the
// sender report interceptor, which locks and updates each stream's state
// on every packet (Reporter makes the reports from counts the down tracks
// keep anyway; their receiver reports then give the round trip,
// DownTrack.noteReception), and the stats interceptor (meetd reads what
// it needs from receiver reports).
func interceptors(m *webrtc.MediaEngine) (*interceptor.Registry, error) {
	ir := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, err
	}
	ir.Add(gen)
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, err
	}
	ir.Add(rr)
	if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
		return nil, err
	}
	return ir, nil
}

// pcConfig is every peer connection's: meetd's own candidates are its
// host addresses (or the configured public ones), so it needs no STUN.
var pcConfig = webrtc.Configuration{
	BundlePolicy:  webrtc.BundlePolicyMaxBundle,
	RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
}

// NewPublishConnection creates a peer connection a publisher sends media on.
func (a *API) NewPublishConnection() (*webrtc.PeerConnection, error) {
	return a.newPublishConnection(a.publish, true)
}

// newPublishConnection makes a publish connection with api; atSocket
// lets its Ingress read at the shared sockets.
func (a *API) newPublishConnection(api *webrtc.API, atSocket bool) (*webrtc.PeerConnection, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	a.building.Lock()
	defer a.building.Unlock()
	a.built = nil
	pc, err := api.NewPeerConnection(cfg)
	in := a.built
	a.built = nil
	if err != nil {
		return nil, err
	}
	if in != nil {
		if atSocket {
			in.socket = a.newSocketIngress(pc, in)
		}
		if in.socket == nil {
			// Counted as pion's until it closes; a socket path counts
			// itself as it moves.
			a.counters.readPaths[ReadPion].Add(1)
			in.uncount = func() { a.counters.readPaths[ReadPion].Add(-1) }
		}
		in.forget = func() { a.ingresses.Delete(pc) }
		a.ingresses.Store(pc, in)
	}
	return pc, nil
}

// NewSubscribeConnection creates a peer connection meetd sends media on,
// and receives none.
func (a *API) NewSubscribeConnection() (*webrtc.PeerConnection, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	return a.subscribe.NewPeerConnection(cfg)
}

// NewOwnSocketSubscribeConnection creates a subscribe connection, as
// NewSubscribeConnection does, whose media goes through UDP sockets of its
// own (on a port of Config.UDPPortMin to UDPPortMax, or one the kernel
// picks) instead of the shared ones, and its Egress, which then sends
// through the connection's ICE transport.
//
// The shared sockets' mux hands each packet to the one connection that
// registered its source address last: a second connection with the same
// remote address takes the first one's checks and DTLS over. A node of a
// cluster both offers a link to another node and answers one from it,
// both between the two nodes' media addresses; the link it offers on is
// made here, so that each remote address has at most one connection on
// the shared sockets (docs/cluster.md).
func (a *API) NewOwnSocketSubscribeConnection(log *slog.Logger) (*webrtc.PeerConnection, *Egress, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	pc, err := a.ownSocket.NewPeerConnection(cfg)
	if err != nil {
		return nil, nil, err
	}
	// No shared sockets: the egress must never take a pair of this
	// connection's for one of theirs (egress.routeFor matches by port
	// when the address is a public one).
	return pc, a.newEgress(pc, nil, log), nil
}
