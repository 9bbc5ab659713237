package httpd

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// hostAllowed is the defence of /ws against DNS rebinding: a page at an
// attacker's name, which the attacker's DNS then points at meetd's address
// (on a LAN or this machine, out of the attacker's own reach), is
// same-origin with meetd as far as the browser can tell, so the Origin
// check lets it in. Its Host, though, still names the attacker's domain,
// never one of meetd's. So a browser's same-origin upgrade must name meetd
// by an address, localhost, the machine's names, the certificate's names,
// or a name the settings allow (-allowed-origins, -allowed-hosts).
//
// Other names are let through from a reverse proxy, one that sets
// Forwarded, X-Forwarded-For, X-Forwarded-Host or X-Real-IP: a browser's
// WebSocket cannot send those headers, and meetd cannot know a proxy's
// public name, so plain-HTTP deployments behind a proxy keep working with
// no setting. Once -allowed-hosts is set, it is the whole list: other
// names are refused through a proxy too (-allowed-hosts '*' lets any
// through).
//
// The check does not concern requests without an Origin (not a browser,
// which always sends one on a WebSocket) nor cross-origin ones, which the
// Origin check answers by -allowed-origins.
func (s *Server) hostAllowed(r *http.Request) bool { return s.hostAllowedVia(r, forwarded(r)) }

// fetchHostAllowed is hostAllowed for WHIP and WHEP, which a page's script
// calls with fetch: that can set forwarding headers of its own, so they
// count only from a proxy -trust-proxy names.
func (s *Server) fetchHostAllowed(r *http.Request) bool {
	return s.hostAllowedVia(r, forwarded(r) && s.cfg.TrustProxy.trusts(peerAddr(r)))
}

// hostAllowedVia is the check, with proxied saying whether the request
// came through a reverse proxy whose public name meetd cannot know.
func (s *Server) hostAllowedVia(r *http.Request, proxied bool) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if u, err := url.Parse(origin); err != nil || !strings.EqualFold(u.Host, r.Host) {
		return true
	}
	host := strings.ToLower(strings.TrimSuffix(r.Host, "."))
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	if net.ParseIP(name) != nil || name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	// A certificate's name may be a wildcard, hence patterns for Hosts too.
	for _, patterns := range [][]string{s.cfg.Hosts, s.cfg.AllowedHosts, s.cfg.AllowedOrigins} {
		for _, p := range patterns {
			p = strings.ToLower(p)
			if ok, _ := path.Match(p, name); ok {
				return true
			}
			if ok, _ := path.Match(p, host); ok {
				return true
			}
		}
	}
	return len(s.cfg.AllowedHosts) == 0 && proxied
}

// refuseHost answers an upgrade that hostAllowed refused.
func (s *Server) refuseHost(w http.ResponseWriter, r *http.Request) {
	s.log.Warn("request refused: unknown host name", "path", r.URL.Path, "host", r.Host, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
	http.Error(w, fmt.Sprintf("meetd does not answer to the name %q: it is not an address or a name of this server. "+
		"If meetd is reached by this name, add it to -allowed-hosts (MEETD_ALLOWED_HOSTS). "+
		"This check stops other web sites from pointing their own names at meetd (DNS rebinding).", r.Host),
		http.StatusForbidden)
}
