package egress

import (
	"errors"
	"net/netip"
	"reflect"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/udpbatch"
)

// The reading side of a publish connection (internal/sfu's Ingress) reads
// the publisher's RTP at the shared socket with keys pion keeps to
// itself: their derivation reads pion's internals, so it lives here with
// the egress's.

// srtpReplayWindow is how many RTP packets back a replay is caught, as
// pion's sessions default to.
const srtpReplayWindow = 64

// ReadKeys is the SRTP context that decrypts the RTP the remote peer of
// dt sends, derived from dt's DTLS connection once it is connected. It is
// an error when this pion version hides the connection (see Available).
func ReadKeys(dt *webrtc.DTLSTransport) (*srtp.Context, error) {
	if !internals() {
		return nil, errors.New("pion's DTLS transport is not as expected")
	}
	conn := (*dtls.Conn)(reflect.ValueOf(dt).Elem().FieldByName("conn").UnsafePointer())
	if conn == nil {
		return nil, errors.New("the DTLS transport has no connection")
	}
	profile, keys, err := dtlsSessionKeys(conn)
	if err != nil {
		return nil, err
	}
	// Replay protection as pion's SRTP sessions have it; header
	// extensions encrypted (RFC 9335) or not, as pion reads them when the
	// connection negotiated it (which pion's clients do).
	return srtp.CreateContext(keys.RemoteMasterKey, keys.RemoteMasterSalt, profile,
		srtp.SRTPReplayProtection(srtpReplayWindow), srtp.Cryptex(srtp.CryptexModeEnabled))
}

// Route is the shared socket and remote address of ICE pair p; a nil
// socket when p is not on one of conns (TCP, or a socket of the
// connection's own).
func Route(conns []*udpbatch.Conn, p *webrtc.ICECandidatePair) (*udpbatch.Conn, netip.AddrPort) {
	r := routeFor(conns, p)
	return r.conn, r.addr
}
