package sfu

import "sync"

// packetCacheSize is how many packets of a track are kept for
// retransmission: about 3 s of 1.2 Mbit/s video.
const packetCacheSize = 512

// packetCache keeps a track's last packets, as received, so that a packet a
// subscriber lost can be sent again. One cache serves every subscriber of
// the track, so a packet is copied once, however many receive it.
type packetCache struct {
	// mu protects entries.
	mu      sync.Mutex
	entries [packetCacheSize]cachedPacket
}

type cachedPacket struct {
	seq uint16
	n   int // 0: empty
	buf [maxPacketSize]byte
}

// maxPacketSize bounds the RTP packets meetd reads and forwards.
const maxPacketSize = 1500

// store copies packet, whose sequence number is seq, into the cache.
func (c *packetCache) store(seq uint16, packet []byte) {
	if len(packet) > maxPacketSize {
		return
	}
	c.mu.Lock()
	e := &c.entries[seq%packetCacheSize]
	e.seq = seq
	e.n = copy(e.buf[:], packet)
	c.mu.Unlock()
}

// get copies the packet with sequence number seq into dst and returns its
// length, or 0 when the cache no longer holds it.
func (c *packetCache) get(seq uint16, dst []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &c.entries[seq%packetCacheSize]
	if e.n == 0 || e.seq != seq {
		return 0
	}
	return copy(dst, e.buf[:e.n])
}
