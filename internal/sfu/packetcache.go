package sfu

import (
	"sync"
	"time"
)

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
	n   int   // 0: empty
	at  int64 // arrival, unix nanoseconds
	buf [maxPacketSize]byte
}

// maxResendAge is the oldest packet worth sending again: later than this
// it would arrive after the receiver has given up on it.
const maxResendAge = int64(time.Second)

// maxPacketSize bounds the RTP packets meetd reads and forwards.
const maxPacketSize = 1500

// store copies packet, whose sequence number is seq and which arrived at
// now (unix nanoseconds), into the cache.
func (c *packetCache) store(seq uint16, packet []byte, now int64) {
	if len(packet) > maxPacketSize {
		return
	}
	c.mu.Lock()
	e := &c.entries[seq%packetCacheSize]
	e.seq, e.at = seq, now
	e.n = copy(e.buf[:], packet)
	c.mu.Unlock()
}

// get copies the packet with sequence number seq into dst and returns its
// length, or 0 when the cache no longer holds it or it is too old to send
// again at now.
func (c *packetCache) get(seq uint16, dst []byte, now int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &c.entries[seq%packetCacheSize]
	if e.n == 0 || e.seq != seq || now-e.at > maxResendAge {
		return 0
	}
	return copy(dst, e.buf[:e.n])
}
