package sfu

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// NewLinkConnection creates the one peer connection between two nodes of
// a cluster, which carries tracks both ways: it receives as a publish
// connection does (pion's read path, through the interceptors of received
// streams: NACK generator, receiver reports, TWCC feedback; NewTrack and
// NewLayerTrack take its tracks) and sends as a subscribe connection, its
// down tracks' media and sender reports through the returned Egress,
// which seals them and writes them through the connection's ICE
// transport, never at a shared socket.
//
// Why this holds together, where a browser's connection is one or the
// other:
//   - The Egress keeps the SRTP state of the SSRCs it sends (their
//     rollover counters, their SRTCP indexes); pion's SRTP session keeps
//     that of the RTCP the interceptors and keyframe requests send. SRTP
//     and SRTCP state is per SSRC on both ends, and the two never share
//     one: the Egress writes the down tracks' SSRCs, pion's RTCP carries
//     the interceptors' own random SSRCs (or 0, a keyframe request's).
//     pion writes no RTP: the interceptors send none, and the down
//     tracks write through the Egress.
//   - The Ingress's path at the shared sockets is not used: it and the
//     Egress would each take the connection's one DTLS state handler
//     and its one selected-pair handler (pion keeps one of each). The
//     Egress sends through ICE, so the subscriber's RTCP is read through
//     pion, where the Ingress's path would not see it anyway.
//
// ownSocket puts the connection on UDP sockets of its own (as
// NewOwnSocketSubscribeConnection); the node that offers a link does:
// each link it makes anew then comes from an address of its own, so the
// other node, which answers on its shared socket, never has an old link
// it has not closed yet and the new one registered for the same remote
// address (pion's mux gives a packet to the one registered last).
func (a *API) NewLinkConnection(ownSocket bool, log *slog.Logger) (*webrtc.PeerConnection, *Egress, error) {
	api := a.link
	if ownSocket {
		api = a.ownLink
	}
	pc, err := a.newPublishConnection(api, false)
	if err != nil {
		return nil, nil, err
	}
	return pc, a.newEgress(pc, nil, log), nil
}

// linkSettings are s with pion's logging for node links (linkLogs).
func linkSettings(s webrtc.SettingEngine, log *slog.Logger) webrtc.SettingEngine {
	s.LoggerFactory = linkLogs{logging.NewDefaultLoggerFactory(), log}
	return s
}

// linkLogs is pion's default logging but for one error: on a node link,
// the answering node sends a new track as soon as it has answered, and
// pion logs that the track's first packets came before the answer, and
// that OnTrack "will not be fired". It is fired once the answer is
// taken, with those packets kept (NewAPI), so meetd logs it at debug.
type linkLogs struct {
	logging.LoggerFactory
	log *slog.Logger
}

func (f linkLogs) NewLogger(scope string) logging.LeveledLogger {
	l := f.LoggerFactory.NewLogger(scope)
	if scope != "pc" {
		return l
	}
	return earlyMediaLog{l, f.log}
}

type earlyMediaLog struct {
	logging.LeveledLogger
	log *slog.Logger
}

func (l earlyMediaLog) Errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.Contains(msg, "early media without SDP answer") {
		l.log.Debug("node link: a new track's first packets wait for the answer", "pion", msg)
		return
	}
	l.LeveledLogger.Error(msg)
}
