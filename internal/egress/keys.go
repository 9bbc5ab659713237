package egress

import (
	"errors"
	"reflect"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// SessionKeys are the SRTP profile and keys the DTLS transport of pc
// negotiated, seen from pc's end (Local is its own). It is for clients
// of meetd that stop running pion once DTLS is up and decrypt what meetd
// sends themselves (the load tool's light viewers); pion exports no way
// to have them, so it reads them as a Conn does, and fails as New would
// on a pion version without those fields.
func SessionKeys(pc *webrtc.PeerConnection) (srtp.ProtectionProfile, srtp.SessionKeys, error) {
	if !internals() {
		return 0, srtp.SessionKeys{}, errNoInternals
	}
	dt := pc.SCTP().Transport()
	if dt.State() != webrtc.DTLSTransportStateConnected {
		return 0, srtp.SessionKeys{}, errNotConnected
	}
	conn := (*dtls.Conn)(reflect.ValueOf(dt).Elem().FieldByName("conn").UnsafePointer())
	if conn == nil {
		return 0, srtp.SessionKeys{}, errNotConnected
	}
	return dtlsSessionKeys(conn)
}

var (
	errNoInternals  = errors.New("this pion version lacks the fields the SRTP keys are read from")
	errNotConnected = errors.New("DTLS is not connected")
)
