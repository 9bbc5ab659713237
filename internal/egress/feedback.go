package egress

import (
	"github.com/pion/rtcp"

	"github.com/meetd/meetd/internal/udpbatch"
)

// A subscriber's RTCP is about once a second per stream (receiver
// reports), and more on loss (NACKs) or a decoder's trouble (keyframe
// requests). Through pion each packet passes five goroutines: the UDP
// mux's reader, the ICE candidate's, the peer connection's packet mux,
// the SRTCP session and the sender's reader. For a connection whose path
// is on a shared socket, the socket's reader decrypts it instead and
// hands it to the senders it names (through Config.RTCP), on its own
// goroutine. ICE learns that the path is alive from its checks and their
// answers, which still go to pion, as does everything else (STUN, DTLS,
// and all of a connection's traffic on other paths).

// ReceiveRTCP handles pkt, an SRTCP packet from the subscriber that came
// on the shared socket of e's path, as pion would: it decrypts it and
// hands the whole compound packet to Config.RTCP. It is false when pion
// must take the packet: e has no keys (now). It implements
// udpbatch.Listener.
func (e *Conn) ReceiveRTCP(pkt []byte, scratch *udpbatch.Scratch) bool {
	p := e.path.Load()
	if p == nil || p.remote == nil {
		return false
	}
	e.rmu.Lock()
	plain, err := p.remote.DecryptRTCP(scratch[:0:MaxPacket], pkt, nil)
	e.rmu.Unlock()
	if err != nil {
		e.dropped(err)
		return true
	}
	pkts, err := rtcp.Unmarshal(plain)
	if err != nil {
		e.dropped(err)
		return true
	}
	if e.cfg.RTCP != nil {
		e.cfg.RTCP(pkts, scratch[MaxPacket:2*MaxPacket], scratch[2*MaxPacket:])
	}
	return true
}

func (e *Conn) dropped(err error) {
	e.cfg.Log.Debug("subscriber RTCP dropped", "err", err)
	if e.cfg.RTCPDropped != nil {
		e.cfg.RTCPDropped()
	}
}
