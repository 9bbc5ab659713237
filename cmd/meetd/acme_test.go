package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/certs"
)

// startProcess runs a helper program until the test ends, its output
// going to the file out (or to stderr with MEETD_TEST_LOG set).
func startProcess(t *testing.T, env []string, out string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if os.Getenv("MEETD_TEST_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	} else {
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// TestACMEIssuesCertificateFromPebble gets a certificate for meetd.test
// from pebble, a local ACME CA, which validates the challenge by
// connecting to meetd (its DNS, pebble-challtestsrv, says meetd.test is
// 127.0.0.1): TLS-ALPN-01 on the HTTPS port, or, when pebble cannot reach
// that, HTTP-01 on the ACME HTTP port.
func TestACMEIssuesCertificateFromPebble(t *testing.T) {
	pebble := needTool(t, "pebble", "Debian: apt-get install pebble")
	challtest := needTool(t, "pebble-challtestsrv", "Debian: apt-get install pebble")
	t.Run("tls-alpn-01", func(t *testing.T) { issueWithPebble(t, pebble, challtest, false) })
	t.Run("http-01", func(t *testing.T) { issueWithPebble(t, pebble, challtest, true) })
}

func issueWithPebble(t *testing.T, pebble, challtest string, http01 bool) {
	dir := t.TempDir()

	// pebble's own HTTPS certificate, from a throwaway authority.
	pebbleTLS, err := certs.SelfSigned(filepath.Join(dir, "pebble-tls"), []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dnsPort, acmePort, mgmtPort, httpPort, httpsPort := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	tlsPort := httpsPort
	if http01 {
		tlsPort = freePort(t) // nothing listens there
	}
	config := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    filepath.Join(dir, "pebble-tls", "server.crt"),
		"privateKey":                     filepath.Join(dir, "pebble-tls", "server.key"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}}
	data, _ := json.Marshal(config)
	configFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(configFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, nil, filepath.Join(dir, "challtestsrv.log"), challtest, "-dns01", fmt.Sprintf("127.0.0.1:%d", dnsPort),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "",
		"-management", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	startProcess(t, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		filepath.Join(dir, "pebble.log"), pebble, "-config", configFile, "-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort))

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pebbleTLS.CAPEM())
	toPebble := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer toPebble.CloseIdleConnections()
	directory := fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitUntil(t, ctx, "pebble", func() bool {
		res, err := toPebble.Get(directory)
		if err != nil {
			return false
		}
		res.Body.Close()
		return true
	})

	m := runMeetd(t, Config{
		Addr: fmt.Sprintf("127.0.0.1:%d", httpsPort),
		TLS: TLSConfig{
			ACMEDomains: []string{"meetd.test"}, ACMEEmail: "ops@meetd.test", ACMECacheDir: filepath.Join(dir, "acme"),
			ACMEDirectory: directory, ACMERoots: filepath.Join(dir, "pebble-tls", "ca.crt"),
			ACMEHTTPAddr: fmt.Sprintf("127.0.0.1:%d", httpPort),
		},
	})

	// What pebble issues chains to a root it makes at start.
	res, err := toPebble.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmtPort))
	if err != nil {
		t.Fatal(err)
	}
	root, _ := io.ReadAll(res.Body)
	res.Body.Close()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(root) {
		t.Fatalf("pebble's root: %q", root)
	}
	browser := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, m.Addr())
		},
	}}
	defer browser.CloseIdleConnections()
	res, err = browser.Get(fmt.Sprintf("https://meetd.test:%d/healthz", httpsPort))
	if err != nil {
		t.Fatalf("HTTPS with the issued certificate: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("GET /healthz: %d %q", res.StatusCode, body)
	}
	leaf := res.TLS.PeerCertificates[0]
	if leaf.VerifyHostname("meetd.test") != nil || leaf.Issuer.CommonName == "" {
		t.Errorf("certificate for %v from %q", leaf.DNSNames, leaf.Issuer.CommonName)
	}
	t.Logf("issued for %v by %q, until %v", leaf.DNSNames, leaf.Issuer.CommonName, leaf.NotAfter)
	if log, err := os.ReadFile(filepath.Join(dir, "pebble.log")); err == nil {
		if got := bytes.Contains(log, []byte("validate w/ HTTP:")); got != http01 {
			t.Errorf("pebble validated over HTTP-01: %v, want %v", got, http01)
		}
	}

	// Port 80 sends browsers to HTTPS.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = noFollow.Get(fmt.Sprintf("http://127.0.0.1:%d/viewer", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusMovedPermanently {
		t.Errorf("plain HTTP: %d, want a redirect to HTTPS", res.StatusCode)
	}
}
