package whip

import (
	"strings"
	"testing"
)

func TestParseFragment(t *testing.T) {
	f, err := parseFragment("a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
		"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n" +
		"a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n" +
		"a=end-of-candidates\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if f.ufrag != "EsAw" || f.pwd != "P2uYro0UCOQ4zxjKXaWCBui1" || len(f.candidates) != 2 {
		t.Fatalf("got %+v", f)
	}
	c := f.candidates[0]
	if c.SDPMid == nil || *c.SDPMid != "0" || !strings.HasPrefix(c.Candidate, "candidate:1387637174 ") || *c.UsernameFragment != "EsAw" {
		t.Errorf("candidate %+v", c)
	}
	for _, bad := range []string{"hello", "a=candidate:nonsense", strings.Repeat("a=candidate:1 1 udp 1 192.0.2.1 1 typ host\n", maxFragCandidates+1)} {
		if _, err := parseFragment(bad); err == nil {
			t.Errorf("%.40q parsed", bad)
		}
	}
}

func FuzzParseFragment(f *testing.F) {
	f.Add("a=ice-ufrag:a\r\na=ice-pwd:b\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n")
	f.Add("a=end-of-candidates\n")
	f.Fuzz(func(t *testing.T, body string) {
		frag, err := parseFragment(body)
		if err == nil && len(frag.candidates) > maxFragCandidates {
			t.Fatal("too many candidates accepted")
		}
	})
}
