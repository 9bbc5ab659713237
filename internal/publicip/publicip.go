// Package publicip finds the address the internet sees this machine at, by
// asking a STUN server (RFC 5389 Binding): what a server behind a cloud
// provider's 1:1 NAT announces for media.
package publicip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/stun/v4"
)

// ErrNoAnswer means the STUN server did not answer.
var ErrNoAnswer = errors.New("the STUN server did not answer")

// Discover asks the STUN server at addr (host:port) for this machine's
// public IPv4 address, trying a few times within ctx.
func Discover(ctx context.Context, addr string) (net.IP, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("STUN server %s: %w", addr, err)
	}
	defer conn.Close()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	buf := make([]byte, 1500)
	for wait := 250 * time.Millisecond; wait <= 2*time.Second; wait *= 2 {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if _, err := conn.Write(req.Raw); err != nil {
			return nil, fmt.Errorf("STUN server %s: %w", addr, err)
		}
		deadline := time.Now().Add(wait)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = conn.SetReadDeadline(deadline)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				break // timed out: send again
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if res.Decode() != nil || res.TransactionID != req.TransactionID {
				continue
			}
			var xor stun.XORMappedAddress
			if err := xor.GetFrom(res); err != nil {
				return nil, fmt.Errorf("STUN server %s: answer without an address: %w", addr, err)
			}
			return xor.IP, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNoAnswer, addr)
}
