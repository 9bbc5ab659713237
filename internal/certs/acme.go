package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACMEConfig is how to get certificates from an ACME CA.
type ACMEConfig struct {
	// Domains the certificate is for; they must resolve to this machine,
	// and port 80 must reach meetd's ACME handler (HTTP-01), or the HTTPS
	// port must (TLS-ALPN-01).
	Domains []string
	// Email is given to the CA, which writes about expiring certificates.
	Email string
	// CacheDir keeps the account key and the certificates across restarts.
	CacheDir string
	// DirectoryURL is the CA's ACME directory; empty means Let's Encrypt.
	DirectoryURL string
	// RootsFile, when set, is a PEM file of CA certificates to trust when
	// talking to the ACME server (for a private CA or a test CA).
	RootsFile string
}

// ACME serves certificates issued, and renewed, by an ACME CA.
type ACME struct {
	// TLS serves the certificates (and answers TLS-ALPN-01 challenges).
	TLS *tls.Config
	// HTTPHandler answers HTTP-01 challenges and sends every other request
	// to HTTPS; serve it on port 80.
	HTTPHandler http.Handler
	manager     *autocert.Manager
}

// NewACME prepares an ACME client; certificates are requested on the
// first TLS connection that needs them.
func NewACME(cfg ACMEConfig) (*ACME, error) {
	if len(cfg.Domains) == 0 {
		return nil, fmt.Errorf("ACME needs a domain")
	}
	client := &acme.Client{DirectoryURL: cfg.DirectoryURL}
	if cfg.RootsFile != "" {
		pem, err := os.ReadFile(cfg.RootsFile)
		if err != nil {
			return nil, fmt.Errorf("ACME CA roots: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ACME CA roots: no certificate in %s", cfg.RootsFile)
		}
		client.HTTPClient = &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		}
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cfg.CacheDir),
		HostPolicy: autocert.HostWhitelist(cfg.Domains...),
		Email:      cfg.Email,
		Client:     client,
	}
	a := &ACME{manager: m, HTTPHandler: stripPort(m.HTTPHandler(nil))}
	a.TLS = m.TLSConfig()
	a.TLS.MinVersion = tls.VersionTLS12
	return a, nil
}

// stripPort drops the port from the request's Host: autocert checks the
// Host against the domains, and a challenge that reached meetd through a
// port forward (or a test CA's port setting) names a port.
func stripPort(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, _, err := net.SplitHostPort(r.Host); err == nil {
			r.Host = host
		}
		h.ServeHTTP(w, r)
	})
}
