package whip

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// maxFragCandidates bounds the candidates one PATCH may carry.
const maxFragCandidates = 64

var errTooManyCandidates = errors.New("too many candidates in one request")

// fragment is a trickle ICE SDP fragment (RFC 8840), as WHIP and WHEP
// clients PATCH it: ICE credentials, then media sections with their
// candidates.
type fragment struct {
	ufrag, pwd string
	candidates []webrtc.ICECandidateInit
}

// parseFragment reads an application/trickle-ice-sdpfrag body.
func parseFragment(body string) (fragment, error) {
	var f fragment
	mid := ""
	var midSet bool
	line := 0
	for raw := range strings.SplitSeq(body, "\n") {
		l := strings.TrimRight(raw, "\r")
		line++
		if l == "" {
			continue
		}
		if len(l) < 2 || l[1] != '=' {
			return f, fmt.Errorf("line %d is not of the form x=value", line)
		}
		switch {
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			f.ufrag = strings.TrimPrefix(l, "a=ice-ufrag:")
		case strings.HasPrefix(l, "a=ice-pwd:"):
			f.pwd = strings.TrimPrefix(l, "a=ice-pwd:")
		case strings.HasPrefix(l, "m="):
			mid, midSet = "", false
		case strings.HasPrefix(l, "a=mid:"):
			mid, midSet = strings.TrimPrefix(l, "a=mid:"), true
		case strings.HasPrefix(l, "a=candidate:"):
			if len(f.candidates) >= maxFragCandidates {
				return f, errTooManyCandidates
			}
			value := strings.TrimPrefix(l, "a=")
			if _, err := ice.UnmarshalCandidate(value); err != nil {
				return f, fmt.Errorf("line %d: %w", line, err)
			}
			c := webrtc.ICECandidateInit{Candidate: value}
			if midSet {
				m := mid
				c.SDPMid = &m
			} else {
				zero := uint16(0)
				c.SDPMLineIndex = &zero
			}
			if f.ufrag != "" {
				u := f.ufrag
				c.UsernameFragment = &u
			}
			f.candidates = append(f.candidates, c)
		}
	}
	return f, nil
}
