package sfu

import (
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/egress"
	"github.com/meetd/meetd/internal/udpbatch"
)

// Egress is how the packets of one subscribe connection leave: through
// pion's write path, or, when the API has it (Config.FastEgress), through
// meetd's own egress, which seals them and writes them to the socket
// itself (internal/egress). Either way a path that can block (ICE-TCP, a
// TURN relay, a socket of the connection's own, pion's write path) is
// written from a bounded queue (sendqueue.go): a fan-out never waits for
// one subscriber.
type Egress struct {
	// fast is meetd's own egress; nil leaves every packet to pion.
	fast     fastEgress
	counters *Counters
	log      *slog.Logger
	// connected is set while DTLS is connected. Before, pion drops what
	// it is given, and so does writePion, so that a video starts at a
	// keyframe that arrived.
	connected atomic.Bool
	// senders are the connection's senders by SSRC, for the RTCP meetd's
	// egress reads at a shared socket and for resync; replaced whole,
	// under mu.
	senders atomic.Pointer[map[uint32]*Sender]
	// mu guards changes to senders, and counted: how the connection is
	// counted in Counters.sendPaths.
	mu      sync.Mutex
	counted SendPath

	// queue holds what goes through ICE or pion, paths that can block
	// (see QueueLimits); a shared socket's path never does.
	queue sendQueue
	// onStall is told, once, that the queue stayed backed up too long.
	onStall   func()
	stallOnce sync.Once
}

// fastEgress is meetd's own egress of a subscribe connection
// (internal/egress.Conn): it seals the connection's RTP and RTCP with keys
// it reads from pion and writes them to the socket, around pion's write
// path. A nil one, the default, leaves every packet to pion.
type fastEgress interface {
	// WriteRTP and WriteRTCP send a packet, encrypted in buf; handled
	// is false when pion is to send it after all. WriteRTP queues on a
	// shared socket in q, a fan-out shard's batch, when not nil.
	WriteRTP(h *rtp.Header, payload []byte, video bool, buf []byte, q *udpbatch.Queue) (n int, handled bool, err error)
	WriteRTCP(raw, buf []byte) (n int, handled bool, err error)
	// Prefetch asks for stage i (egress.PrefetchConn, PrefetchPath,
	// PrefetchKeys) of what WriteRTP reads (fanout.go).
	Prefetch(stage int)
	// Connect and Disconnect tell it DTLS connected, and closed.
	Connect()
	Disconnect()
}

// sealBuf is where a packet is encrypted, or marshalled for pion's
// writer. Each goroutine that sends keeps one (a track's read loop, a
// down track's RTCP reader) and encrypts the packets of all its
// subscribers in it: it stays in the processor's cache, where a buffer
// per subscriber would not.
type sealBuf [maxPacketSize + egress.MaxOverhead]byte

// NewEgress makes the Egress of pc, a subscribe connection just created.
func (a *API) NewEgress(pc *webrtc.PeerConnection, log *slog.Logger) *Egress {
	return a.newEgress(pc, a.sockets, log)
}

// newEgress makes the Egress of pc, which may send on sockets (nil for
// none).
func (a *API) newEgress(pc *webrtc.PeerConnection, sockets *udpbatch.Sockets, log *slog.Logger) *Egress {
	e := &Egress{counters: &a.counters, log: log}
	e.queue.limits = a.queueLimits
	if a.fastEgress {
		if fast := egress.New(pc, e.fastConfig(sockets)); fast != nil {
			e.fast = fast
		}
	}
	dt := pc.SCTP().Transport()
	dt.OnStateChange(func(st webrtc.DTLSTransportState) {
		// pion calls this holding the transport's lock: the egress reads
		// only fields, not its methods.
		switch st {
		case webrtc.DTLSTransportStateConnected:
			e.connected.Store(true)
			if e.fast != nil {
				e.fast.Connect()
			} else {
				e.count(SendPion)
			}
		case webrtc.DTLSTransportStateClosed, webrtc.DTLSTransportStateFailed:
			e.connected.Store(false)
			if e.fast != nil {
				e.fast.Disconnect()
			} else {
				e.count(SendNone)
			}
			e.queue.close()
		}
	})
	return e
}

// fastConfig is what e's fast egress sends with and reports to.
func (e *Egress) fastConfig(sockets *udpbatch.Sockets) egress.Config {
	return egress.Config{Sockets: sockets, Log: e.log, Enqueue: e.enqueueSealed, RTCP: e.receiveRTCP,
		RTCPDropped: func() { e.counters.rtcpRead[RTCPDropped].Add(1) }, Path: e.fastPath}
}

// enqueueSealed queues b, sealed by meetd's egress, for the ICE
// connection to.
func (e *Egress) enqueueSealed(b []byte, video bool, to io.Writer) int {
	return e.enqueue(b, video, to, nil)
}

// fastPath counts the connection by how meetd's egress sends.
func (e *Egress) fastPath(p egress.Path) {
	e.count([...]SendPath{egress.PathNone: SendNone, egress.PathShared: SendShared,
		egress.PathICE: SendICE, egress.PathPion: SendPion}[p])
}

// count counts the connection as sending by p from now on.
func (e *Egress) count(p SendPath) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p == e.counted {
		return
	}
	paths := &e.counters.sendPaths
	if e.counted != SendNone {
		paths[e.counted].Add(-1)
	}
	if p != SendNone {
		paths[p].Add(1)
	}
	e.counted = p
}

// addSender makes the subscriber's RTCP about ssrc go to s.
func (e *Egress) addSender(ssrc uint32, s *Sender) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[uint32]*Sender{}
	if old := e.senders.Load(); old != nil {
		m = maps.Clone(*old)
	}
	m[ssrc] = s
	e.senders.Store(&m)
}

// removeSender undoes addSender.
func (e *Egress) removeSender(ssrc uint32, s *Sender) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.senders.Load()
	if old == nil || (*old)[ssrc] != s {
		return
	}
	m := maps.Clone(*old)
	delete(m, ssrc)
	e.senders.Store(&m)
}

// receiveRTCP handles the subscriber's RTCP that meetd's egress read at a
// shared socket, as pion would: the whole compound packet goes to each
// sender whose SSRC it names. scratch and buf are the socket reader's.
func (e *Egress) receiveRTCP(pkts []rtcp.Packet, scratch, buf []byte) {
	e.counters.rtcpRead[RTCPAtSocket].Add(1)
	senders := e.senders.Load()
	if senders == nil {
		return
	}
	seal := (*sealBuf)(buf)
	var done [4]*Sender
	handled := done[:0]
	for _, pk := range pkts {
		for _, ssrc := range pk.DestinationSSRC() {
			s := (*senders)[ssrc]
			if s == nil || containsSender(handled, s) {
				continue
			}
			handled = append(handled, s)
			s.handle(pkts, scratch, seal)
		}
	}
}

func containsSender(ss []*Sender, s *Sender) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
