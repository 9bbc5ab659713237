package publicip_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/publicip"
	"github.com/meetd/meetd/internal/turn"
)

func TestDiscoverAsksSTUN(t *testing.T) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	s, err := turn.NewServer(turn.Config{Port: port, RelayIP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ip, err := publicip.Discover(t.Context(), "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	if !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("discovered %v, want 127.0.0.1 (the address the STUN server saw)", ip)
	}
}

func TestDiscoverGivesUp(t *testing.T) {
	// A socket that never answers.
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := publicip.Discover(ctx, c.LocalAddr().String()); err == nil {
		t.Fatal("discovered an address from a server that never answered")
	} else if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, publicip.ErrNoAnswer) {
		t.Errorf("error %v", err)
	}
}
