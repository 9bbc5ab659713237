package httpd

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddress(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name    string
		peer    string
		header  http.Header
		want    string
		proxied bool
	}{
		{"direct", "203.0.113.9:5000", nil, "203.0.113.9", false},
		{"headers from anyone else are ignored", "203.0.113.9:5000",
			http.Header{"X-Forwarded-For": {"198.51.100.1"}, "X-Real-Ip": {"198.51.100.2"}}, "203.0.113.9", false},
		{"a trusted proxy without headers", "10.0.0.2:5000", nil, "10.0.0.2", false},
		{"X-Forwarded-For", "10.0.0.2:5000", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1", true},
		{"what the client wrote before our proxy is skipped", "10.0.0.2:5000",
			http.Header{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1"}}, "198.51.100.1", true},
		{"a chain of our proxies", "10.0.0.2:5000",
			http.Header{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1", "10.1.1.1"}}, "198.51.100.1", true},
		{"a hop that is no address stops the walk", "10.0.0.2:5000",
			http.Header{"X-Forwarded-For": {"198.51.100.1, nonsense, 10.1.1.1"}}, "10.1.1.1", true},
		{"Forwarded", "10.0.0.2:5000",
			http.Header{"Forwarded": {`for=1.2.3.4, for="[2001:db8::7]:4711";proto=https`}}, "2001:db8::7", true},
		{"Forwarded with a hidden hop", "10.0.0.2:5000", http.Header{"Forwarded": {"for=_hidden"}}, "10.0.0.2", true},
		{"X-Real-IP", "[::1]:5000", http.Header{"X-Real-Ip": {"198.51.100.3"}}, "198.51.100.3", true},
		{"X-Forwarded-For before X-Real-IP", "10.0.0.2:5000",
			http.Header{"X-Real-Ip": {"1.2.3.4"}, "X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1", true},
		{"IPv4 in IPv6", "[::ffff:10.0.0.2]:5000", http.Header{"X-Forwarded-For": {"::ffff:198.51.100.1"}}, "198.51.100.1", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		r.RemoteAddr = tt.peer
		for k, v := range tt.header {
			r.Header[k] = v
		}
		got, proxied := proxies.Client(r)
		if got != netip.MustParseAddr(tt.want) || proxied != tt.proxied {
			t.Errorf("%s: %s (proxied %v), want %s (%v)", tt.name, got, proxied, tt.want, tt.proxied)
		}
	}
}

func TestLocal(t *testing.T) {
	for _, tt := range []struct {
		name    string
		peer    string
		trust   Proxies
		header  string
		isLocal bool
	}{
		{"loopback", "127.0.0.1:5000", nil, "", true},
		{"IPv6 loopback", "[::1]:5000", nil, "", true},
		{"another machine", "192.0.2.1:5000", nil, "", false},
		{"X-Forwarded-For", "127.0.0.1:5000", nil, "X-Forwarded-For", false},
		{"X-Real-IP", "127.0.0.1:5000", nil, "X-Real-IP", false},
		{"Forwarded", "127.0.0.1:5000", nil, "Forwarded", false},
		{"X-Forwarded-Host", "127.0.0.1:5000", nil, "X-Forwarded-Host", false},
		{"Via", "127.0.0.1:5000", nil, "Via", false},
		{"a trusted proxy", "127.0.0.1:5000", Proxies{netip.MustParsePrefix("127.0.0.1/32")}, "", false},
		{"another proxy is trusted", "127.0.0.1:5000", Proxies{netip.MustParsePrefix("10.0.0.0/8")}, "", true},
	} {
		s := &Server{cfg: Config{TrustProxy: tt.trust}}
		r := httptest.NewRequest(http.MethodGet, "/admin/stats", nil)
		r.RemoteAddr = tt.peer
		if tt.header != "" {
			r.Header.Set(tt.header, "198.51.100.1")
		}
		if got := s.local(r); got != tt.isLocal {
			t.Errorf("%s: local %v, want %v", tt.name, got, tt.isLocal)
		}
	}
}
