package main

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"

	"github.com/meetd/meetd/internal/certs"
	"github.com/meetd/meetd/internal/httpd"
)

// site is how meetd serves HTTPS, when it does.
type site struct {
	tls    *tls.Config
	trust  *httpd.Trust // a self-signed certificate's authority
	caFile string
	acme   *certs.ACME
}

// setupTLS loads or makes the HTTPS certificate the settings ask for.
func (m *Main) setupTLS() (site, error) {
	c := m.Config.TLS
	var s site
	switch {
	case c.CertFile != "":
		cfg, err := certs.FromFiles(c.CertFile, c.KeyFile)
		if err != nil {
			return s, err
		}
		s.tls = cfg
	case c.SelfSigned:
		names, ips := certs.MachineNames()
		for _, p := range m.Config.SFU.PublicIPs {
			if ip := net.ParseIP(p); ip != nil {
				ips = append(ips, ip)
			}
		}
		local, err := certs.SelfSigned(c.StateDir+"/tls", names, ips)
		if err != nil {
			return s, err
		}
		s.tls, s.caFile = local.TLS, local.CAFile
		s.trust = &httpd.Trust{CAPEM: local.CAPEM(), Fingerprint: local.Fingerprint}
	case len(c.ACMEDomains) > 0:
		a, err := certs.NewACME(certs.ACMEConfig{
			Domains: c.ACMEDomains, Email: c.ACMEEmail, CacheDir: c.ACMECacheDir,
			DirectoryURL: c.ACMEDirectory, RootsFile: c.ACMERoots,
		})
		if err != nil {
			return s, err
		}
		s.tls, s.acme = a.TLS, a
	default:
		return s, nil
	}
	// HTTP/1.1 only: connections reach net/http through the port mux, which
	// hides the *tls.Conn that HTTP/2 needs. "stun.turn" (RFC 7443) lets TURN
	// clients that ask for it in.
	protos := []string{"http/1.1", "stun.turn"}
	if s.acme != nil {
		protos = append(protos, "acme-tls/1")
	}
	s.tls.NextProtos = protos
	return s, nil
}

// serveACME answers HTTP-01 challenges (and redirects to HTTPS) on the
// ACME HTTP address.
func (m *Main) serveACME(a *certs.ACME) error {
	ln, err := net.Listen("tcp", m.Config.TLS.ACMEHTTPAddr)
	if err != nil {
		return err
	}
	m.acme = m.Config.HTTP.NewServer(a.HTTPHandler, m.log)
	go func() {
		if err := m.acme.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("ACME HTTP server stopped", "err", err)
		}
	}()
	m.log.Info("ACME challenges and redirect to HTTPS", "addr", ln.Addr().String(), "domains", m.Config.TLS.ACMEDomains)
	return nil
}

// hostNames are the names meetd knows itself by: the machine's, and those
// of its certificate.
func (m *Main) hostNames(s site) []string {
	names, _ := certs.MachineNames()
	names = append(names, m.Config.TLS.ACMEDomains...)
	if s.tls != nil {
		for _, c := range s.tls.Certificates {
			if c.Leaf != nil {
				names = append(names, c.Leaf.DNSNames...)
			}
		}
	}
	return names
}
