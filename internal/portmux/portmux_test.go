package portmux

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/pion/stun/v4"

	"github.com/meetd/meetd/internal/certs"
)

func TestIsSTUN(t *testing.T) {
	binding := stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw
	for _, tc := range []struct {
		name string
		head []byte
		want bool
	}{
		{"binding request", binding, true},
		{"HTTP GET", []byte("GET / HTTP/1.1\r\n"), false},
		{"HTTP/2 preface", []byte("PRI * HTTP/2.0\r\n"), false},
		{"short", binding[:7], false},
		{"channel data", []byte{0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}, false},
		{"cookie but top bits set", append([]byte{0x80}, binding[1:]...), false},
	} {
		if got := IsSTUN(tc.head); got != tc.want {
			t.Errorf("%s: IsSTUN = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMuxSortsConnections(t *testing.T) {
	local, err := certs.SelfSigned(filepath.Join(t.TempDir(), "tls"), []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := New(ln, local.TLS, slog.New(slog.DiscardHandler))
	defer m.Close()

	send := func(data []byte) {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		_, _ = c.Write(data)
		_, _ = io.Copy(io.Discard, c) // until the test closes the other end
	}
	binding := stun.MustBuild(stun.TransactionID, stun.BindingRequest).Raw
	for _, tc := range []struct {
		data []byte
		want net.Listener
		name string
	}{
		{[]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), m.HTTP(), "HTTP"},
		{binding, m.TURN(), "TURN"},
	} {
		go send(tc.data)
		c, err := tc.want.Accept()
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(tc.data))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(tc.data) {
			t.Errorf("%s: read %q, %v; want the bytes sent, peeked ones included", tc.name, got, err)
		}
		c.Close()
	}
}
