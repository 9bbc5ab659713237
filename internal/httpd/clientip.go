package httpd

import (
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies trusted to say who their client is.
type Proxies []netip.Prefix

// trusts reports whether a is one of the proxies.
func (p Proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the address of the client that made r: the TCP peer's, unless
// the peer is a trusted proxy, whose forwarding headers then name the
// client. Headers from anyone else are ignored: they are whatever the
// client chose to write. proxied says the address came from a header.
//
// Of the headers, X-Forwarded-For comes first, then Forwarded, then
// X-Real-IP. A chain is read from the right, skipping trusted proxies: the
// first address no proxy of ours wrote itself is the client's. What is
// left of it was written by the client, and may be anything.
func (p Proxies) Client(r *http.Request) (client netip.Addr, proxied bool) {
	peer := peerAddr(r)
	if !peer.IsValid() || !p.trusts(peer) {
		return peer, false
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		return p.walk(peer, strings.Split(strings.Join(xff, ","), ",")), true
	}
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		return p.walk(peer, forwardedFor(fwd)), true
	}
	if real := strings.TrimSpace(r.Header.Get("X-Real-Ip")); real != "" {
		if a := parseHop(real); a.IsValid() {
			return a, true
		}
	}
	return peer, false
}

// walk reads hops right to left for the first address that is not a
// trusted proxy; a hop that is not an address stops it at the last good one.
func (p Proxies) walk(peer netip.Addr, hops []string) netip.Addr {
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseHop(hops[i])
		if !a.IsValid() {
			return last
		}
		if !p.trusts(a) {
			return a
		}
		last = a
	}
	return last
}

// forwardedFor lists the for= parameters of RFC 7239 Forwarded headers, in
// order.
func forwardedFor(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			hop := "unknown"
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hop = strings.Trim(val, `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}

// parseHop reads one hop of a forwarding header: an address, with or
// without a port, IPv6 perhaps in brackets.
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// forwarded reports whether r carries any header a proxy adds to say whom
// it forwards for, or how: a request that has one came through a proxy,
// whatever its TCP peer.
func forwarded(r *http.Request) bool {
	for name := range r.Header {
		switch {
		case strings.HasPrefix(name, "X-Forwarded-"), strings.HasPrefix(name, "X-Original-"):
			return true
		}
		switch name {
		case "Forwarded", "X-Real-Ip", "Via", "X-Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip",
			"Fastly-Client-Ip", "X-Cluster-Client-Ip", "X-Proxyuser-Ip":
			return true
		}
	}
	return false
}

// remote is the client's address for per-client limits, and how logs and
// the stats view show it: the TCP peer's "address:port", or the address a
// trusted proxy named.
func (s *Server) remote(r *http.Request) (netip.Addr, string) {
	a, proxied := s.cfg.TrustProxy.Client(r)
	if proxied {
		return a, a.String()
	}
	if len(s.cfg.TrustProxy) == 0 && a.IsLoopback() && forwarded(r) {
		s.proxyWarning.Do(func() {
			s.log.Warn("requests come through a proxy on this machine, and -trust-proxy is not set: "+
				"every client of the proxy counts as this one address for the per-address limits",
				"proxy", r.RemoteAddr)
		})
	}
	return a, r.RemoteAddr
}

// local reports whether r comes from this machine and from nothing in
// between: a loopback peer that is not a trusted proxy, and no forwarding
// header of any kind. A proxy on this machine would otherwise make every
// one of its clients local.
func (s *Server) local(r *http.Request) bool {
	peer := peerAddr(r)
	return peer.IsLoopback() && !s.cfg.TrustProxy.trusts(peer) && !forwarded(r)
}
