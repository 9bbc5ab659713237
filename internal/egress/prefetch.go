package egress

import "unsafe"

// Prefetch asks the processor for what the Conn's next WriteRTP reads
// that is likely out of its caches: the sealer and its cipher's state (a
// fan-out meets each subscriber's state cold, as the kernel's work for
// the datagrams before pushed it out). It returns without waiting: a
// fan-out calls it for the next subscriber before writing to this one.
func (e *Conn) Prefetch() {
	if p := e.path.Load(); p != nil && p.seal != nil {
		prefetch(unsafe.Pointer(p.seal), unsafe.Sizeof(*p.seal))
		prefetch(p.cipher, p.cipherSize)
	}
}
