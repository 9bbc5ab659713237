package sfu

import (
	"net"

	"golang.org/x/sys/unix"
)

// setDontFragment sets DF on what an IPv4 socket sends, ignoring the path
// MTU the kernel learns (IP_PMTUDISC_PROBE). pion sizes RTP and DTLS
// packets to fit a path (about 1200 bytes), so media is never fragmented
// anyway; with DF set the kernel skips choosing an IP ID per datagram
// (__ip_select_ident: a hash and an atomic operation on a shared table),
// about a tenth of its cost to send a datagram on loopback.
func setDontFragment(c *net.UDPConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
	}); err != nil {
		return err
	}
	return serr
}
