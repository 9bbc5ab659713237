package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// A browser that offers before it knows whether meetd accepts BUNDLE and
// RTCP multiplexing (Firefox, and the seed's pages, whose connections use
// the default "balanced" bundle policy) gathers candidates for each media
// section, and for an RTCP component of each: four sockets per address
// where one is used. Once meetd's answer bundles everything on the first
// section's transport with RTCP multiplexed, the browser uses that one
// socket and ignores the others.
//
// meetd's ICE agent tells neither sections nor components apart. Given
// those candidates, it checks them all, and it takes the browser's
// nomination of whichever pair succeeds with the highest priority: on a
// busy machine that has been a socket the browser no longer reads. Then
// meetd's DTLS handshake, keyframe requests and receiver reports go
// nowhere, while the browser says ICE is connected. So meetd adds only the
// candidates the connection will use: component 1 (RTP) of the bundle's
// own section.

// errCandidateUnused is the error of a candidate left out on purpose.
var errCandidateUnused = errors.New("candidate not used")

// addRemoteCandidate adds cand to pc unless pc will never use it.
func addRemoteCandidate(pc *webrtc.PeerConnection, cand webrtc.ICECandidateInit) error {
	if why := unusedCandidate(pc, cand); why != "" {
		return fmt.Errorf("%w: %s", errCandidateUnused, why)
	}
	return pc.AddICECandidate(cand)
}

// unusedCandidate says why pc, whose descriptions are set, will not use
// cand; "" if it may.
func unusedCandidate(pc *webrtc.PeerConnection, cand webrtc.ICECandidateInit) string {
	c, err := ice.UnmarshalCandidate(strings.TrimPrefix(cand.Candidate, "a="))
	if err != nil {
		return "" // pion says what is wrong with it
	}
	if c.Component() != ice.ComponentRTP {
		return fmt.Sprintf("component %d: meetd multiplexes RTCP with RTP", c.Component())
	}
	desc := pc.LocalDescription()
	if desc == nil {
		desc = pc.RemoteDescription()
	}
	if desc == nil {
		return ""
	}
	mid, index, ok := bundleTag(desc.SDP)
	if !ok {
		return ""
	}
	switch {
	case cand.SDPMid != nil && *cand.SDPMid != "":
		if *cand.SDPMid != mid {
			return fmt.Sprintf("media section %q is bundled on section %q", *cand.SDPMid, mid)
		}
	case cand.SDPMLineIndex != nil:
		if int(*cand.SDPMLineIndex) != index {
			return fmt.Sprintf("media section %d is bundled on section %d", *cand.SDPMLineIndex, index)
		}
	}
	return ""
}

// bundleTag is the media section whose transport a description's BUNDLE
// group uses, the first one the group names: its mid and its index among
// the media sections. ok is false without a group.
func bundleTag(sdp string) (mid string, index int, ok bool) {
	var mids []string
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "a=group:BUNDLE "):
			if fields := strings.Fields(strings.TrimPrefix(line, "a=group:BUNDLE ")); len(fields) > 0 && mid == "" {
				mid = fields[0]
			}
		case strings.HasPrefix(line, "m="):
			mids = append(mids, "")
		case strings.HasPrefix(line, "a=mid:") && len(mids) > 0:
			mids[len(mids)-1] = strings.TrimPrefix(line, "a=mid:")
		}
	}
	if mid == "" {
		return "", 0, false
	}
	for i, m := range mids {
		if m == mid {
			return mid, i, true
		}
	}
	return "", 0, false
}

// rtpCandidatesOnly is sdp without its candidates of components other
// than RTP's (see above): pion takes a description's candidates as they
// are.
func rtpCandidatesOnly(sdp string) string {
	if !strings.Contains(sdp, "a=candidate:") {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\n")
	kept := lines[:0]
	for _, line := range lines {
		if strings.HasPrefix(line, "a=candidate:") {
			fields := strings.Fields(line)
			if len(fields) > 1 && fields[1] != "1" {
				continue
			}
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "")
}
