package httpd

import (
	"html/template"
	"net/http"
)

// Trust is meetd's local certificate authority, when it serves HTTPS with
// a self-signed certificate: devices that trust it open meetd without a
// warning.
type Trust struct {
	// CAPEM is the authority's certificate.
	CAPEM []byte
	// Fingerprint is its SHA-256, to compare with what a device shows.
	Fingerprint string
}

// CAPath is where the authority's certificate is served.
const CAPath = "/meetd-ca.crt"

// TrustPath is the page that says how to trust it.
const TrustPath = "/trust"

var trustPage = template.Must(template.New("trust").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trust this meetd</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}code{word-break:break-all}</style></head>
<body>
<h1>Trust this meetd</h1>
<p>This meetd serves HTTPS with a certificate from its own certificate authority, so browsers warn
before opening it. Trust the authority once on each device and the warning goes away (cameras need HTTPS).</p>
<p><a href="{{.CAPath}}" download="meetd-ca.crt"><strong>Download the certificate</strong></a>, then compare its
SHA-256 fingerprint with the one meetd printed in its log:</p>
<p><code>{{.Fingerprint}}</code></p>
<h2>Install it</h2>
<ul>
<li><strong>Android:</strong> Settings → Security → Encryption &amp; credentials → Install a certificate → CA certificate.</li>
<li><strong>iPhone, iPad:</strong> open the downloaded profile in Settings → Profile Downloaded → Install; then Settings →
General → About → Certificate Trust Settings → turn on full trust for “meetd local CA”.</li>
<li><strong>macOS:</strong> open the file in Keychain Access, then set “When using this certificate” to Always Trust.</li>
<li><strong>Windows:</strong> open the file → Install Certificate → Local Machine → Trusted Root Certification Authorities.</li>
<li><strong>Linux (Chrome, Chromium):</strong> Settings → Privacy and security → Security → Manage certificates → Authorities → Import.
<strong>Firefox:</strong> Settings → Privacy &amp; Security → Certificates → View Certificates → Authorities → Import.
System-wide on Debian: copy it to <code>/usr/local/share/ca-certificates/meetd-ca.crt</code> and run <code>update-ca-certificates</code>.</li>
</ul>
<p><a href="/">Back to meetd</a></p>
</body></html>
`))

func (s *Server) serveCA(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-x509-ca-cert")
	w.Header().Set("Content-Disposition", `attachment; filename="meetd-ca.crt"`)
	_, _ = w.Write(s.cfg.Trust.CAPEM)
}

func (s *Server) serveTrust(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_ = trustPage.Execute(w, struct{ CAPath, Fingerprint string }{CAPath, s.cfg.Trust.Fingerprint})
}
