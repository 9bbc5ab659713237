package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// certLifetime is how long meetd's DTLS certificate serves new peer
// connections before a new one is made; pion's last a month, and a
// connection keeps the one it started with.
const certLifetime = 24 * time.Hour

// certificates holds the DTLS certificate of meetd's peer connections.
//
// Without one, pion makes a key and a signed certificate for each peer
// connection: about 0.6 ms of CPU for every viewer who joins, on the core
// that forwards everyone's media. Nothing is gained by it: the
// certificate's fingerprint travels in meetd's session descriptions over
// the signaling connection, which is what lets a peer trust it, and its
// private key never leaves the server; a browser, likewise, uses one
// certificate for all of a page's connections.
type certificates struct {
	// mu protects cert and made.
	mu   sync.Mutex
	cert *webrtc.Certificate
	made time.Time
}

// get returns the certificate for a new peer connection, making one when
// there is none or it has served certLifetime.
func (c *certificates) get() ([]webrtc.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil || time.Since(c.made) > certLifetime {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return nil, err
		}
		c.cert, c.made = cert, time.Now()
	}
	return []webrtc.Certificate{*c.cert}, nil
}

// config is the configuration of a new peer connection: pcConfig with
// meetd's certificate.
func (a *API) config() (webrtc.Configuration, error) {
	certs, err := a.certs.get()
	if err != nil {
		return webrtc.Configuration{}, err
	}
	cfg := pcConfig
	cfg.Certificates = certs
	return cfg, nil
}
