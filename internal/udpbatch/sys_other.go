//go:build !linux

package udpbatch

import (
	"net"
	"net/netip"
)

// batchSys sends a queue one datagram at a time: sendmmsg is Linux's.
type batchSys struct {
	c    *net.UDPConn
	poll bool // unused: writes block as net.UDPConn's do
}

func (s *batchSys) init(c *net.UDPConn) { s.c = c }

// send sends the datagrams of queue in order, up to the first that fails.
// It returns how many were sent; an error is about the first of the others.
func (s *batchSys) send(queue []slot) (int, error) {
	for i := range queue {
		if _, err := s.c.WriteToUDPAddrPort(queue[i].buf, queue[i].addr); err != nil {
			if i == 0 {
				return 0, err
			}
			return i, nil
		}
	}
	return len(queue), nil
}

// sendOne sends one datagram.
func (s *batchSys) sendOne(b []byte, addr netip.AddrPort) (int, error) {
	return s.c.WriteToUDPAddrPort(b, addr)
}

// recvSys reads datagrams as net.UDPConn does.
type recvSys struct {
	c *net.UDPConn
}

func (r *recvSys) init(c *net.UDPConn) { r.c = c }

func (r *recvSys) read(b []byte) (int, netip.AddrPort, error) { return r.c.ReadFromUDPAddrPort(b) }

// setDontFragment does nothing but on Linux.
func setDontFragment(*net.UDPConn) error { return nil }
