package client

import (
	"strings"
	"testing"
)

const balancedOffer = "v=0\r\n" +
	"a=group:BUNDLE a v\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" +
	"a=mid:a\r\n" +
	"a=candidate:0 1 UDP 2122252543 127.0.0.1 40001 typ host\r\n" +
	"a=candidate:1 2 UDP 2122252542 127.0.0.1 40002 typ host\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"a=mid:v\r\n" +
	"a=candidate:2 1 UDP 2122252543 127.0.0.1 40003 typ host\r\n" +
	"a=candidate:3 2 UDP 2122252542 127.0.0.1 40004 typ host\r\n"

func TestBundleTag(t *testing.T) {
	mid, index, ok := bundleTag(balancedOffer)
	if !ok || mid != "a" || index != 0 {
		t.Fatalf("bundleTag = %q %d %v, want \"a\" 0 true", mid, index, ok)
	}
	reordered := strings.Replace(balancedOffer, "BUNDLE a v", "BUNDLE v a", 1)
	if mid, index, ok := bundleTag(reordered); !ok || mid != "v" || index != 1 {
		t.Fatalf("bundleTag of a group naming video first = %q %d %v, want \"v\" 1 true", mid, index, ok)
	}
	if _, _, ok := bundleTag(strings.Replace(balancedOffer, "a=group:BUNDLE a v\r\n", "", 1)); ok {
		t.Fatal("bundleTag found a group in a description without one")
	}
}

func TestRTPCandidatesOnly(t *testing.T) {
	got := rtpCandidatesOnly(balancedOffer)
	for _, port := range []string{"40002", "40004"} {
		if strings.Contains(got, port) {
			t.Errorf("the RTCP candidate on port %s is still there:\n%s", port, got)
		}
	}
	for _, port := range []string{"40001", "40003"} {
		if !strings.Contains(got, port) {
			t.Errorf("the RTP candidate on port %s is gone:\n%s", port, got)
		}
	}
	if want := len(balancedOffer) - 2*len("a=candidate:1 2 UDP 2122252542 127.0.0.1 40002 typ host\r\n"); len(got) != want {
		t.Errorf("%d bytes left, want %d:\n%s", len(got), want, got)
	}
}
