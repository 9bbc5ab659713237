package egress

import "unsafe"

// prefetch asks the processor to bring the n bytes at p into its caches
// (PREFETCHT0 for each line) and returns without waiting for them. It
// never faults: p may be nil.
//
//go:noescape
func prefetch(p unsafe.Pointer, n uintptr)
