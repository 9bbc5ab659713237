package egress

import "unsafe"

// A fan-out meets each subscriber's state cold in the processor's cache:
// between two packets of a track, the kernel's work for hundreds of
// datagrams pushes it out. Followed one pointer at a time, the down
// track, its Conn, the Conn's path, the sealer and the cipher's state
// (key schedule and GHASH table, several cache lines) each stall the
// fan-out for a miss, per packet and subscriber. It asks for them ahead
// instead, in stages, one subscriber further ahead for each: every stage
// reads only what the stage before asked for an iteration earlier, so
// none waits. docs/media-path.md has what this buys.

// Prefetch asks the processor for all of *p, a small struct (a few cache
// lines), and returns without waiting. It never faults.
func Prefetch[T any](p *T) { prefetch(unsafe.Pointer(p), unsafe.Sizeof(*p)) }

// Stages of Conn.Prefetch, in the order a fan-out asks for them.
const (
	// PrefetchConn asks for the Conn's first cache line: its path and
	// lock. It reads nothing.
	PrefetchConn = iota
	// PrefetchPath asks for the path (keys, route, where the sealer and
	// the cipher's state are); it reads the Conn's first line.
	PrefetchPath
	// PrefetchKeys asks for the sealer and its cipher's state; it reads
	// the path.
	PrefetchKeys
)

// Prefetch asks for stage i of what the Conn's next WriteRTP reads.
func (e *Conn) Prefetch(stage int) {
	if stage == PrefetchConn {
		prefetch(unsafe.Pointer(e), 64)
		return
	}
	p := e.path.Load()
	switch {
	case p == nil:
	case stage == PrefetchPath:
		prefetch(unsafe.Pointer(p), unsafe.Sizeof(*p))
	case p.seal != nil:
		prefetch(unsafe.Pointer(p.seal), unsafe.Sizeof(*p.seal))
		prefetch(p.cipher, p.cipherSize)
	}
}
