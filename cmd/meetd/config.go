package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/cluster"
	"github.com/meetd/meetd/internal/httpd"
	"github.com/meetd/meetd/internal/record"
	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/turn"
)

// Config is every setting of meetd. Each has a flag and an environment
// variable; the flag wins.
type Config struct {
	Addr           string
	AllowedOrigins []string
	ICEServers     []string
	SFU            sfu.Config
	// PublicIPSTUN is a STUN server (host:port) to ask for the public IP
	// address at start, when SFU.PublicIPs is empty.
	PublicIPSTUN string
	TLS          TLSConfig
	TURN         TURNConfig
	LogLevel     slog.Level
	// RoomsFile lists rooms that need passwords or tokens; TokenSecret
	// signs and checks tokens.
	RoomsFile   string
	TokenSecret string
	Limits      room.Limits
	// PerAddr bounds what one client address may hold and do, and
	// Passwords the guessing of room passwords. TrustProxy lists the
	// reverse proxies whose forwarding headers name the client.
	PerAddr    PerAddrLimits
	Passwords  access.Limits
	TrustProxy []netip.Prefix
	// AdminPassword opens the stats view to others than this machine.
	AdminPassword string
	// PprofAddr, when set, serves net/http/pprof there, apart from the
	// public address.
	PprofAddr string
	// HTTP bounds each HTTP connection, on every listener.
	HTTP httpd.Limits
	// AllowedHosts are Host patterns /ws accepts besides meetd's own names.
	AllowedHosts []string
	// Record is where and how much meetd records (record.go).
	Record RecordConfig
	// Cluster joins other nodes through NATS (docs/cluster.md).
	Cluster ClusterConfig
}

// ClusterConfig is how meetd joins a cluster of nodes; no NATS URLs, none.
type ClusterConfig struct {
	NATS []string
	// Node names this node (default: the host's name and -addr's port);
	// MediaAddr is the address other nodes reach its media on.
	Node, MediaAddr string
	// StartTimeout is how long a starting node waits for NATS; zero,
	// cluster.DefaultStartTimeout.
	StartTimeout time.Duration
}

// PerAddrLimits bound what one client address (an IPv6 /64) may hold and
// do, so that one client cannot take what everyone shares; 0 means no
// bound.
type PerAddrLimits struct {
	// Connections are /ws connections open at once; Sessions, WHIP and
	// WHEP sessions.
	Connections, Sessions int
	// Rooms is how many rooms the address has opened that are still open;
	// RoomsOpened how many it may open in RoomsWindow.
	Rooms, RoomsOpened int
	RoomsWindow        time.Duration
}

// TLSConfig is where meetd's HTTPS certificate comes from; at most one of
// the three ways is used. With none, meetd serves plain HTTP.
type TLSConfig struct {
	CertFile, KeyFile string
	SelfSigned        bool
	// StateDir keeps the self-signed authority and the ACME cache.
	StateDir string
	// ACMEDomains get certificates from the ACME CA at ACMEDirectory.
	ACMEDomains   []string
	ACMEEmail     string
	ACMECacheDir  string
	ACMEDirectory string
	ACMERoots     string
	// ACMEHTTPAddr serves HTTP-01 challenges and redirects to HTTPS.
	ACMEHTTPAddr string
}

// Enabled reports whether meetd serves HTTPS.
func (c TLSConfig) Enabled() bool {
	return c.CertFile != "" || c.SelfSigned || len(c.ACMEDomains) > 0
}

// TURNConfig is the embedded TURN server.
type TURNConfig struct {
	Enabled  bool
	Port     int
	Secret   string
	Lifetime time.Duration
	// MaxAllocationsPerUser and MaxAllocationsPerIP cap the live relays
	// of one participant and of one client address; 0 for no cap.
	MaxAllocationsPerUser, MaxAllocationsPerIP int
}

// ParseConfig reads flags from args, falling back to the environment.
func ParseConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("meetd", flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envBool := func(name string) bool {
		v := strings.ToLower(getenv(name))
		return v == "true" || v == "1" || v == "yes"
	}
	var origins, hosts, iceServers, interfaces, publicIPs, ports, level, acmeDomains string
	var udpPort, tcpPort, turnPort, lifetime string
	var trustProxy, wrongWindow string
	var httpRead, httpWrite, httpIdle string
	var loopback bool
	fs.StringVar(&cfg.Addr, "addr", env("MEETD_ADDR", ""), "address to serve HTTP (or HTTPS) on; default :8080, with -acme-domain :443 (env MEETD_ADDR)")
	fs.StringVar(&origins, "allowed-origins", env("MEETD_ALLOWED_ORIGINS", ""),
		"comma-separated origin hosts allowed to open /ws besides the page's own, e.g. app.example.com,*.example.org (env MEETD_ALLOWED_ORIGINS)")
	fs.StringVar(&hosts, "allowed-hosts", env("MEETD_ALLOWED_HOSTS", ""),
		"comma-separated names browsers may reach /ws by besides addresses, localhost, the machine's and the certificate's names, e.g. meet.example.com; when set, other names are refused even through a reverse proxy; * allows any (env MEETD_ALLOWED_HOSTS)")
	fs.StringVar(&iceServers, "ice-servers", env("MEETD_ICE_SERVERS", ""),
		"comma-separated extra STUN/TURN URLs handed to browsers, e.g. stun:stun.example.org:3478 (env MEETD_ICE_SERVERS)")
	fs.BoolVar(&loopback, "ice-loopback", envBool("MEETD_ICE_LOOPBACK"),
		"also gather 127.0.0.1 candidates, so clients on this machine connect when loopback is its only network (env MEETD_ICE_LOOPBACK=true)")
	fs.StringVar(&interfaces, "ice-interfaces", env("MEETD_ICE_INTERFACES", ""),
		"comma-separated network interfaces to gather media candidates on; empty means all (env MEETD_ICE_INTERFACES)")
	fs.StringVar(&publicIPs, "public-ip", env("MEETD_PUBLIC_IP", ""),
		"comma-separated public IP addresses to announce for media, for a server behind a 1:1 NAT (env MEETD_PUBLIC_IP)")
	fs.StringVar(&cfg.PublicIPSTUN, "public-ip-stun", env("MEETD_PUBLIC_IP_STUN", ""),
		"STUN server host:port to ask for the public IP address at start, when -public-ip is unset, e.g. stun.l.google.com:19302 (env MEETD_PUBLIC_IP_STUN)")
	fs.StringVar(&udpPort, "udp-port", env("MEETD_UDP_PORT", ""),
		"one UDP port for all media, e.g. 3479; wins over -udp-ports; empty: one the kernel picks (env MEETD_UDP_PORT)")
	fs.StringVar(&ports, "udp-ports", env("MEETD_UDP_PORTS", ""),
		"UDP port range for media, MIN-MAX, one port per connection instead of one shared; with -udp-port, the ports of the node links a cluster node offers on (env MEETD_UDP_PORTS)")
	fs.StringVar(&tcpPort, "tcp-port", env("MEETD_TCP_PORT", ""),
		"TCP port for media (ICE-TCP), for clients whose network blocks UDP; empty means none (env MEETD_TCP_PORT)")
	fs.BoolVar(&cfg.SFU.PionReadPath, "pion-read-path", envBool("MEETD_PION_READ_PATH"),
		"read publishers' media through pion's read path, not at the shared UDP socket: slower, a way back should the fast path misbehave (env MEETD_PION_READ_PATH=true)")
	var queueAge, stall string
	fs.IntVar(&cfg.SFU.Queue.Bytes, "subscriber-queue-bytes", envInt(env("MEETD_SUBSCRIBER_QUEUE_BYTES", ""), sfu.DefaultQueueBytes),
		"most media, in bytes, waiting to be sent to one subscriber over TCP, TURN or a socket of its own; past it its video is dropped until a keyframe (env MEETD_SUBSCRIBER_QUEUE_BYTES)")
	fs.StringVar(&queueAge, "subscriber-queue-age", env("MEETD_SUBSCRIBER_QUEUE_AGE", sfu.DefaultQueueAge.String()),
		"oldest media waiting to be sent to one subscriber; older is dropped (env MEETD_SUBSCRIBER_QUEUE_AGE)")
	fs.StringVar(&stall, "subscriber-stall", env("MEETD_SUBSCRIBER_STALL", sfu.DefaultStall.String()),
		"how long a subscriber's media may stay backed up before meetd stops sending it and tells it so (env MEETD_SUBSCRIBER_STALL)")
	fastEgress, fastEgressErr := parseBool(getenv("MEETD_FAST_EGRESS"), true)
	fs.BoolVar(&cfg.SFU.FastEgress, "fast-egress", fastEgress,
		"send subscribers' media with meetd's own SRTP egress, which seals it and batches the sends around pion's write path; false leaves it to pion's, which costs more CPU per viewer but reads no pion internals (env MEETD_FAST_EGRESS=false)")
	absSendTime, absSendTimeErr := parseBool(getenv("MEETD_ABS_SEND_TIME"), true)
	fs.BoolVar(&cfg.SFU.AbsSendTime, "abs-send-time", absSendTime,
		"stamp the video sent to viewers with its send time (abs-send-time), so that browsers' bandwidth estimates (REMB) see a queue building before packets are lost (env MEETD_ABS_SEND_TIME=false)")
	var keyframes string
	fs.StringVar(&keyframes, "keyframe-interval", env("MEETD_KEYFRAME_INTERVAL", sfu.DefaultKeyframeInterval.String()),
		"least time between two keyframe requests to a publisher, per layer, however many viewers join or ask: a viewer who joins waits up to this long for video, and each keyframe is forwarded to every viewer (env MEETD_KEYFRAME_INTERVAL)")
	fs.IntVar(&cfg.SFU.FanOutShard, "fanout-shard", envInt(env("MEETD_FANOUT_SHARD", ""), sfu.DefaultFanOutShard),
		"fewest viewers of one track a core is given: a track with twice as many or more has its sending split over up to GOMAXPROCS cores; 0 keeps each track's sending on one core (env MEETD_FANOUT_SHARD)")
	fs.IntVar(&cfg.SFU.Probes, "probes", envInt(env("MEETD_PROBES", ""), sfu.DefaultProbes),
		"viewers whose link meetd may probe at once, with padding, before stepping their video up a simulcast layer; 0 for none: layers then step up on the loss-based estimate alone (env MEETD_PROBES)")
	fs.IntVar(&cfg.SFU.ProbeRate, "probe-rate", envInt(env("MEETD_PROBE_RATE", ""), sfu.DefaultProbeRate),
		"most padding, in bits per second, a probe sends one viewer (for at most 2.5 s) (env MEETD_PROBE_RATE)")
	fs.BoolVar(&cfg.TURN.Enabled, "turn", envBool("MEETD_TURN"),
		"run the embedded TURN server: UDP and TCP on -turn-port, and TLS on the HTTPS port (env MEETD_TURN=true)")
	fs.StringVar(&turnPort, "turn-port", env("MEETD_TURN_PORT", "3478"), "TURN port, UDP and TCP (env MEETD_TURN_PORT)")
	fs.StringVar(&cfg.TURN.Secret, "turn-secret", env("MEETD_TURN_SECRET", ""),
		"secret that signs TURN credentials; empty means a random one at each start (env MEETD_TURN_SECRET)")
	fs.StringVar(&lifetime, "turn-credential-lifetime", env("MEETD_TURN_CREDENTIAL_LIFETIME", turn.DefaultLifetime.String()),
		"how long an issued TURN credential works (env MEETD_TURN_CREDENTIAL_LIFETIME)")
	fs.IntVar(&cfg.TURN.MaxAllocationsPerUser, "turn-max-allocations-per-user",
		envInt(env("MEETD_TURN_MAX_ALLOCATIONS_PER_USER", ""), turn.DefaultMaxAllocationsPerUser),
		"TURN relays one participant holds at once (a browser takes about 6), 0 for no limit (env MEETD_TURN_MAX_ALLOCATIONS_PER_USER)")
	fs.IntVar(&cfg.TURN.MaxAllocationsPerIP, "turn-max-allocations-per-ip",
		envInt(env("MEETD_TURN_MAX_ALLOCATIONS_PER_IP", ""), turn.DefaultMaxAllocationsPerIP),
		"TURN relays one client address holds at once, for everyone behind it, 0 for no limit (env MEETD_TURN_MAX_ALLOCATIONS_PER_IP)")
	fs.StringVar(&cfg.TLS.CertFile, "tls-cert", env("MEETD_TLS_CERT", ""), "PEM certificate chain file: serve HTTPS with it and -tls-key (env MEETD_TLS_CERT)")
	fs.StringVar(&cfg.TLS.KeyFile, "tls-key", env("MEETD_TLS_KEY", ""), "PEM private key file of -tls-cert (env MEETD_TLS_KEY)")
	fs.BoolVar(&cfg.TLS.SelfSigned, "tls-self-signed", envBool("MEETD_TLS_SELF_SIGNED"),
		"serve HTTPS with a certificate from meetd's own local authority, for a LAN; the log says how to trust it (env MEETD_TLS_SELF_SIGNED=true)")
	fs.StringVar(&cfg.TLS.StateDir, "state-dir", env("MEETD_STATE_DIR", defaultStateDir()),
		"directory for the self-signed authority and the ACME cache (env MEETD_STATE_DIR)")
	fs.StringVar(&acmeDomains, "acme-domain", env("MEETD_ACME_DOMAIN", ""),
		"comma-separated public domain names to get certificates for by ACME (Let's Encrypt); needs ports 80 and 443 (env MEETD_ACME_DOMAIN)")
	fs.StringVar(&cfg.TLS.ACMEEmail, "acme-email", env("MEETD_ACME_EMAIL", ""), "contact address given to the ACME CA (env MEETD_ACME_EMAIL)")
	fs.StringVar(&cfg.TLS.ACMECacheDir, "acme-dir", env("MEETD_ACME_DIR", ""), "ACME account and certificate cache; default STATE-DIR/acme (env MEETD_ACME_DIR)")
	fs.StringVar(&cfg.TLS.ACMEDirectory, "acme-ca", env("MEETD_ACME_CA", ""), "ACME directory URL; default Let's Encrypt (env MEETD_ACME_CA)")
	fs.StringVar(&cfg.TLS.ACMERoots, "acme-ca-roots", env("MEETD_ACME_CA_ROOTS", ""),
		"PEM file of CA certificates to trust when talking to a private ACME server (env MEETD_ACME_CA_ROOTS)")
	fs.StringVar(&cfg.TLS.ACMEHTTPAddr, "acme-http-addr", env("MEETD_ACME_HTTP_ADDR", ":80"),
		"address for ACME HTTP-01 challenges and the redirect to HTTPS (env MEETD_ACME_HTTP_ADDR)")
	fs.StringVar(&cfg.RoomsFile, "rooms-file", env("MEETD_ROOMS_FILE", ""),
		"JSON file of rooms that need passwords (bcrypt hashes) or invitation tokens; rooms it does not list are open (env MEETD_ROOMS_FILE)")
	fs.StringVar(&cfg.TokenSecret, "token-secret", env("MEETD_TOKEN_SECRET", ""),
		"secret that signs invitation tokens (HS256); empty: tokens are refused (env MEETD_TOKEN_SECRET)")
	fs.IntVar(&cfg.Limits.MaxRooms, "max-rooms", envInt(env("MEETD_MAX_ROOMS", ""), 1000),
		"rooms this server holds at once, 0 for no limit (env MEETD_MAX_ROOMS)")
	fs.IntVar(&cfg.Limits.MaxParticipants, "max-participants", envInt(env("MEETD_MAX_PARTICIPANTS", ""), 1000),
		"participants per room unless the rooms file says otherwise, 0 for no limit (env MEETD_MAX_PARTICIPANTS)")
	fs.IntVar(&cfg.Limits.ChatBytes, "chat-history-bytes", envInt(env("MEETD_CHAT_HISTORY_BYTES", ""), 256<<10),
		"bytes of chat history a room keeps for late joiners (at most 100 messages), 0 for no limit (env MEETD_CHAT_HISTORY_BYTES)")
	fs.IntVar(&cfg.Limits.ChatTotal, "chat-history-total", envInt(env("MEETD_CHAT_HISTORY_TOTAL", ""), 64<<20),
		"bytes of chat history all rooms keep together, 0 for no limit (env MEETD_CHAT_HISTORY_TOTAL)")
	fs.StringVar(&trustProxy, "trust-proxy", env("MEETD_TRUST_PROXY", ""),
		"comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For, Forwarded or X-Real-IP header names the client; anyone else's are ignored (env MEETD_TRUST_PROXY)")
	fs.IntVar(&cfg.PerAddr.Connections, "ip-max-connections", envInt(env("MEETD_IP_MAX_CONNECTIONS", ""), 2000),
		"WebSocket connections one client address (IPv6: /64) may have open at once, 0 for no limit (env MEETD_IP_MAX_CONNECTIONS)")
	fs.IntVar(&cfg.PerAddr.Rooms, "ip-max-rooms", envInt(env("MEETD_IP_MAX_ROOMS", ""), 100),
		"rooms one client address may have opened that are still open, 0 for no limit (env MEETD_IP_MAX_ROOMS)")
	fs.IntVar(&cfg.PerAddr.RoomsOpened, "ip-rooms-per-minute", envInt(env("MEETD_IP_ROOMS_PER_MINUTE", ""), 60),
		"rooms one client address may open a minute, 0 for no limit (env MEETD_IP_ROOMS_PER_MINUTE)")
	fs.IntVar(&cfg.PerAddr.Sessions, "ip-max-sessions", envInt(env("MEETD_IP_MAX_SESSIONS", ""), 1000),
		"WHIP and WHEP sessions one client address may have at once, 0 for no limit (env MEETD_IP_MAX_SESSIONS)")
	fs.IntVar(&cfg.Passwords.PerAddr, "ip-wrong-passwords", envInt(env("MEETD_IP_WRONG_PASSWORDS", ""), 100),
		"wrong room passwords one client address may send in -wrong-password-window before it must wait, 0 for no limit (env MEETD_IP_WRONG_PASSWORDS)")
	fs.IntVar(&cfg.Passwords.PerRoom, "room-wrong-passwords", envInt(env("MEETD_ROOM_WRONG_PASSWORDS", ""), 300),
		"wrong passwords one room may get in -wrong-password-window, from everyone, before attempts must wait, 0 for no limit (env MEETD_ROOM_WRONG_PASSWORDS)")
	fs.StringVar(&wrongWindow, "wrong-password-window", env("MEETD_WRONG_PASSWORD_WINDOW", "10m"),
		"the window of -ip-wrong-passwords and -room-wrong-passwords (env MEETD_WRONG_PASSWORD_WINDOW)")
	fs.IntVar(&cfg.Passwords.Comparisons, "password-checks", envInt(env("MEETD_PASSWORD_CHECKS", ""), max(1, runtime.GOMAXPROCS(0)/2)),
		"room password checks (bcrypt) run at once, so guessing cannot take every core; default half the cores, 0 for no limit (env MEETD_PASSWORD_CHECKS)")
	fs.StringVar(&cfg.AdminPassword, "admin-password", env("MEETD_ADMIN_PASSWORD", ""),
		"password (user admin) for the stats view at /admin/stats; only a request from this machine with no proxy in between needs none (env MEETD_ADMIN_PASSWORD)")
	fs.StringVar(&cfg.PprofAddr, "pprof", env("MEETD_PPROF", ""),
		"address to serve Go profiles (/debug/pprof/) on, such as 127.0.0.1:6060; empty means none (env MEETD_PPROF)")
	fs.StringVar(&httpRead, "http-read-timeout", env("MEETD_HTTP_READ_TIMEOUT", httpd.DefaultLimits.ReadTimeout.String()),
		"time a client has to send an HTTP request's headers, and again its body (env MEETD_HTTP_READ_TIMEOUT)")
	fs.StringVar(&httpWrite, "http-write-timeout", env("MEETD_HTTP_WRITE_TIMEOUT", httpd.DefaultLimits.WriteTimeout.String()),
		"time an HTTP response may take to reach the client; WebSockets are not limited by it (env MEETD_HTTP_WRITE_TIMEOUT)")
	fs.StringVar(&httpIdle, "http-idle-timeout", env("MEETD_HTTP_IDLE_TIMEOUT", httpd.DefaultLimits.IdleTimeout.String()),
		"time an idle keep-alive HTTP connection stays open (env MEETD_HTTP_IDLE_TIMEOUT)")
	fs.IntVar(&cfg.HTTP.MaxHeaderBytes, "http-max-header-bytes", envInt(env("MEETD_HTTP_MAX_HEADER_BYTES", ""), httpd.DefaultLimits.MaxHeaderBytes),
		"largest HTTP request header, in bytes (env MEETD_HTTP_MAX_HEADER_BYTES)")
	var recordMax, recordFree, recordJitter string
	recordOn, recordOnErr := parseBool(getenv("MEETD_RECORD"), true)
	fs.BoolVar(&cfg.Record.Enabled, "record", recordOn,
		"let hosts record their rooms, and rooms-file rooms with \"record\": true be recorded whenever live (env MEETD_RECORD=false turns it off)")
	fs.StringVar(&cfg.Record.Dir, "record-dir", env("MEETD_RECORD_DIR", ""),
		"directory for recordings; default STATE-DIR/recordings (env MEETD_RECORD_DIR)")
	fs.StringVar(&recordMax, "record-max-bytes", env("MEETD_RECORD_MAX_BYTES", "0"),
		"most the recordings may take together, such as 50G or 500M; past it recording stops and does not start; 0 for no cap (env MEETD_RECORD_MAX_BYTES)")
	fs.StringVar(&recordFree, "record-min-free", env("MEETD_RECORD_MIN_FREE", "1G"),
		"free space recording leaves on the disk of -record-dir: below it recording does not start, and stops (env MEETD_RECORD_MIN_FREE)")
	fs.StringVar(&recordJitter, "record-jitter-buffer", env("MEETD_RECORD_JITTER_BUFFER", string(record.SampleBuilder)),
		"jitter buffer of recorded tracks: samplebuilder (pion's) or ring (sized for the codec: about 1.5 MiB less per recorded track) (env MEETD_RECORD_JITTER_BUFFER)")
	fs.StringVar(&cfg.Record.FFmpeg, "ffmpeg", env("MEETD_FFMPEG", ""),
		"ffmpeg program that makes a recording's combined file; default ffmpeg on PATH; none for per-track files only (env MEETD_FFMPEG)")
	var natsURLs string
	fs.StringVar(&natsURLs, "nats", env("MEETD_NATS", ""),
		"NATS server URLs, comma-separated (nats://host:4222): join the cluster of meetd nodes they serve; none for one node (env MEETD_NATS)")
	fs.StringVar(&cfg.Cluster.Node, "node-name", env("MEETD_NODE_NAME", ""),
		"this node's name in the cluster, unique; default the host name and -addr's port (env MEETD_NODE_NAME)")
	fs.StringVar(&cfg.Cluster.MediaAddr, "node-media-addr", env("MEETD_NODE_MEDIA_ADDR", ""),
		"the IP address other nodes reach this node's media on; default every media address (env MEETD_NODE_MEDIA_ADDR)")
	natsStart := fs.String("nats-start-timeout", env("MEETD_NATS_START_TIMEOUT", cluster.DefaultStartTimeout.String()),
		"how long a starting node waits for NATS to be reachable and ready, trying again, before it gives up (env MEETD_NATS_START_TIMEOUT)")
	fs.StringVar(&level, "log-level", env("MEETD_LOG_LEVEL", "info"), "debug, info, warn or error (env MEETD_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: meetd [flags]\n       meetd hash-password < password\n       meetd token -room NAME -role stage|audience [-kind meeting] [-name NAME] [-ttl 24h]\n\nmeetd serves a streamer page at /, a viewer page at /viewer, meetings at /meet and signaling at /ws.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.AllowedOrigins = splitList(origins)
	cfg.AllowedHosts = splitList(hosts)
	for _, p := range cfg.AllowedHosts {
		if _, err := path.Match(p, ""); err != nil {
			return cfg, fmt.Errorf("-allowed-hosts %q: not a name pattern such as meet.example.com or *.example.com", p)
		}
	}
	cfg.ICEServers = splitList(iceServers)
	cfg.SFU.Loopback = loopback
	cfg.SFU.Interfaces = splitList(interfaces)
	cfg.SFU.PublicIPs = splitList(publicIPs)
	cfg.TLS.ACMEDomains = splitList(acmeDomains)
	cfg.PerAddr.RoomsWindow = time.Minute
	for _, p := range splitList(trustProxy) {
		pre, err := parsePrefix(p)
		if err != nil {
			return cfg, fmt.Errorf("-trust-proxy %q: want addresses or CIDR prefixes, such as 10.0.0.5 or 10.0.0.0/8", p)
		}
		cfg.TrustProxy = append(cfg.TrustProxy, pre)
	}
	if ports != "" {
		lo, hi, ok := strings.Cut(ports, "-")
		min, err1 := strconv.ParseUint(lo, 10, 16)
		max, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil || min == 0 || min > max {
			return cfg, fmt.Errorf("-udp-ports %q: want MIN-MAX, such as 50000-50100", ports)
		}
		cfg.SFU.UDPPortMin, cfg.SFU.UDPPortMax = uint16(min), uint16(max)
	}
	var err error
	if cfg.SFU.UDPPort, err = parsePort("-udp-port", udpPort); err != nil {
		return cfg, err
	}
	if cfg.SFU.TCPPort, err = parsePort("-tcp-port", tcpPort); err != nil {
		return cfg, err
	}
	if fastEgressErr != nil {
		return cfg, fmt.Errorf("MEETD_FAST_EGRESS: %w", fastEgressErr)
	}
	if absSendTimeErr != nil {
		return cfg, fmt.Errorf("MEETD_ABS_SEND_TIME: %w", absSendTimeErr)
	}
	if cfg.SFU.Queue.Bytes < 16<<10 {
		return cfg, fmt.Errorf("-subscriber-queue-bytes %d: want 16384 or more", cfg.SFU.Queue.Bytes)
	}
	if cfg.SFU.Queue.Age, err = time.ParseDuration(queueAge); err != nil || cfg.SFU.Queue.Age < 50*time.Millisecond {
		return cfg, fmt.Errorf("-subscriber-queue-age %q: want a duration of 50ms or more, such as 500ms", queueAge)
	}
	if cfg.SFU.Queue.Stall, err = time.ParseDuration(stall); err != nil || cfg.SFU.Queue.Stall < cfg.SFU.Queue.Age {
		return cfg, fmt.Errorf("-subscriber-stall %q: want a duration no shorter than -subscriber-queue-age, such as 5s", stall)
	}
	if cfg.SFU.KeyframeInterval, err = time.ParseDuration(keyframes); err != nil ||
		cfg.SFU.KeyframeInterval < 100*time.Millisecond || cfg.SFU.KeyframeInterval > 10*time.Second {
		return cfg, fmt.Errorf("-keyframe-interval %q: want a duration from 100ms to 10s, such as 500ms", keyframes)
	}
	switch {
	case cfg.SFU.FanOutShard < 0:
		return cfg, fmt.Errorf("-fanout-shard %d: want 0 (no split) or more", cfg.SFU.FanOutShard)
	case cfg.SFU.Probes < 0:
		return cfg, fmt.Errorf("-probes %d: want 0 (no probing) or more", cfg.SFU.Probes)
	case cfg.SFU.ProbeRate <= 0:
		return cfg, fmt.Errorf("-probe-rate %d: want bits per second, more than 0", cfg.SFU.ProbeRate)
	case cfg.SFU.FanOutShard == 0:
		cfg.SFU.FanOutShard = -1 // sfu.Config's zero is its default
	}
	if cfg.SFU.Probes == 0 {
		cfg.SFU.Probes = -1 // sfu.Config's zero is its default
	}
	if cfg.TURN.Port, err = parsePort("-turn-port", turnPort); err != nil {
		return cfg, err
	}
	if cfg.TURN.Enabled && cfg.TURN.Port == 0 {
		return cfg, fmt.Errorf("-turn needs a -turn-port")
	}
	if cfg.TURN.Lifetime, err = time.ParseDuration(lifetime); err != nil || cfg.TURN.Lifetime < time.Minute {
		return cfg, fmt.Errorf("-turn-credential-lifetime %q: want a duration of a minute or more, such as 6h", lifetime)
	}
	if cfg.Passwords.Window, err = time.ParseDuration(wrongWindow); err != nil || cfg.Passwords.Window < time.Second {
		return cfg, fmt.Errorf("-wrong-password-window %q: want a duration of a second or more, such as 10m", wrongWindow)
	}
	for _, d := range []struct {
		flag, value string
		to          *time.Duration
	}{
		{"-http-read-timeout", httpRead, &cfg.HTTP.ReadTimeout},
		{"-http-write-timeout", httpWrite, &cfg.HTTP.WriteTimeout},
		{"-http-idle-timeout", httpIdle, &cfg.HTTP.IdleTimeout},
		{"-nats-start-timeout", *natsStart, &cfg.Cluster.StartTimeout},
	} {
		if *d.to, err = time.ParseDuration(d.value); err != nil || *d.to <= 0 {
			return cfg, fmt.Errorf("%s %q: want a duration above zero, such as 30s", d.flag, d.value)
		}
	}
	if recordOnErr != nil {
		return cfg, fmt.Errorf("MEETD_RECORD: %w", recordOnErr)
	}
	if cfg.Record.MaxBytes, err = parseBytes(recordMax); err != nil {
		return cfg, fmt.Errorf("-record-max-bytes %q: %w", recordMax, err)
	}
	if cfg.Record.MinFree, err = parseBytes(recordFree); err != nil {
		return cfg, fmt.Errorf("-record-min-free %q: %w", recordFree, err)
	}
	if cfg.Record.JitterBuffer, err = record.ParseJitterBuffer(recordJitter); err != nil {
		return cfg, fmt.Errorf("-record-jitter-buffer: %w", err)
	}
	if cfg.Record.Dir == "" {
		cfg.Record.Dir = filepath.Join(cfg.TLS.StateDir, "recordings")
	}
	if cfg.HTTP.MaxHeaderBytes < 1024 {
		return cfg, fmt.Errorf("-http-max-header-bytes %d: want at least 1024", cfg.HTTP.MaxHeaderBytes)
	}
	ways := 0
	for _, on := range []bool{cfg.TLS.CertFile != "" || cfg.TLS.KeyFile != "", cfg.TLS.SelfSigned, len(cfg.TLS.ACMEDomains) > 0} {
		if on {
			ways++
		}
	}
	if ways > 1 {
		return cfg, fmt.Errorf("choose one of -tls-cert/-tls-key, -tls-self-signed and -acme-domain")
	}
	if (cfg.TLS.CertFile == "") != (cfg.TLS.KeyFile == "") {
		return cfg, fmt.Errorf("-tls-cert and -tls-key go together")
	}
	if cfg.TLS.ACMECacheDir == "" {
		cfg.TLS.ACMECacheDir = filepath.Join(cfg.TLS.StateDir, "acme")
	}
	if cfg.Addr == "" {
		cfg.Addr = ":8080"
		if len(cfg.TLS.ACMEDomains) > 0 {
			cfg.Addr = ":443"
		}
	}
	cfg.Cluster.NATS = splitList(natsURLs)
	if a := cfg.Cluster.MediaAddr; a != "" {
		if _, err := netip.ParseAddr(a); err != nil {
			return cfg, fmt.Errorf("-node-media-addr %q: want an IP address, such as 10.0.0.5", a)
		}
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return cfg, fmt.Errorf("-log-level %q: %w", level, err)
	}
	return cfg, nil
}

// parsePrefix reads a CIDR prefix, or an address as the prefix of itself.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parsePort(flag, s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("%s %q: want a port number, 1-65535", flag, s)
	}
	return int(p), nil
}

// defaultStateDir is $XDG_STATE_HOME/meetd, ~/.local/state/meetd, or
// ./meetd-state without a home directory.
func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "meetd")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "meetd")
	}
	return "meetd-state"
}

// envInt reads a number from the environment, or def when unset or not a number.
func envInt(v string, def int) int {
	if n, err := strconv.Atoi(v); err == nil {
		return n
	}
	return def
}

// parseBool reads an environment variable's true or false, def when it
// is empty.
func parseBool(v string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def, nil
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return def, fmt.Errorf("%q: want true or false", v)
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
