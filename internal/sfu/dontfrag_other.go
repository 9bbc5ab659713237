//go:build !linux

package sfu

import "net"

// setDontFragment does nothing but on Linux.
func setDontFragment(*net.UDPConn) error { return nil }
