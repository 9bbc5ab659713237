//go:build !amd64

package egress

import "unsafe"

// prefetch would ask the processor for the n bytes at p; only amd64 has
// it here.
func prefetch(p unsafe.Pointer, n uintptr) {}
