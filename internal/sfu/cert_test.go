package sfu

import (
	"testing"
	"time"
)

// One certificate serves every new peer connection until it has served
// certLifetime; then a new one does, valid well beyond.
func TestCertificateIsSharedThenRenewed(t *testing.T) {
	var c certificates
	a, err := c.get()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.get()
	fa, _ := a[0].GetFingerprints()
	fb, _ := b[0].GetFingerprints()
	if fa[0] != fb[0] {
		t.Fatal("two connections got two certificates")
	}
	c.made = c.made.Add(-certLifetime - time.Minute)
	n, _ := c.get()
	fn, _ := n[0].GetFingerprints()
	if fn[0] == fa[0] {
		t.Fatal("the certificate was not renewed after its lifetime")
	}
	if left := time.Until(n[0].Expires()); left < 2*certLifetime {
		t.Errorf("the new certificate expires in %v, sooner than twice its lifetime", left)
	}
}
