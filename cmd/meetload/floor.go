package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/pion/srtp/v3"
	"golang.org/x/sys/unix"
)

// The floor is the work no SFU can avoid for one forwarded packet: SRTP
// encryption with the negotiated profile and one sendto on a loopback UDP
// socket, measured here as the CPU time (user and system) of the one thread
// that does it, on the server's core when it is pinned. Packets have the
// sizes of the synthetic stream, in its mix of video and audio.

// parseProfile maps a DTLS-SRTP profile name, as pion's stats give it, to
// its srtp constant.
func parseProfile(name string) (srtp.ProtectionProfile, error) {
	for _, p := range []srtp.ProtectionProfile{
		srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm,
		srtp.ProtectionProfileAes128CmHmacSha1_80, srtp.ProtectionProfileAes128CmHmacSha1_32,
	} {
		if p.String() == name {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown SRTP profile %q", name)
}

// sizeShare is an RTP packet size and its share of the packets subscribers
// receive.
type sizeShare struct {
	size  int
	share float64
}

// floorPattern spreads the sizes of mix (shares summing to 1) over n
// packets, interleaved.
func floorPattern(mix []sizeShare, n int) []int {
	counts := make([]float64, len(mix))
	out := make([]int, n)
	for i := range out {
		best, lag := 0, math.Inf(-1)
		for j, m := range mix {
			if l := m.share*float64(i+1) - counts[j]; l > lag {
				best, lag = j, l
			}
		}
		counts[best]++
		out[i] = mix[best].size
	}
	return out
}

// measureFloor returns the floor in CPU microseconds per packet, over
// about n packets of the sizes of mix, on cpu (-1: any). It sends as meetd
// does: each packet to fanout receivers in a burst, every receiver with
// its own SRTP context and socket, one burst a millisecond.
func measureFloor(profile srtp.ProtectionProfile, cpu, fanout, n int, mix []sizeShare) (float64, error) {
	// The floor's thread is pinned apart from the rest of the tool, which
	// must keep running to drain the receiving sockets.
	prev := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(prev + 1)
	defer runtime.GOMAXPROCS(prev)
	type result struct {
		us  float64
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread stays locked: it exits with this goroutine, so its
		// affinity never leaks to other goroutines.
		runtime.LockOSThread()
		us, err := floorOnThread(profile, cpu, fanout, n, mix)
		ch <- result{us, err}
	}()
	r := <-ch
	return r.us, r.err
}

// floorReceivers bounds the sockets the floor sends to.
const floorReceivers = 256

func floorOnThread(profile srtp.ProtectionProfile, cpu, fanout, n int, mix []sizeShare) (float64, error) {
	if cpu >= 0 {
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return 0, fmt.Errorf("pin the floor to cpu %d: %w", cpu, err)
		}
	}
	fanout = max(fanout, 1)
	keyLen, err := profile.KeyLen()
	if err != nil {
		return 0, err
	}
	saltLen, err := profile.SaltLen()
	if err != nil {
		return 0, err
	}
	type dest struct {
		ctx  *srtp.Context
		addr netip.AddrPort
	}
	dests := make([]dest, fanout)
	var received atomic.Int64
	for i := range dests {
		key, salt := make([]byte, keyLen), make([]byte, saltLen)
		_, _ = rand.Read(key)
		_, _ = rand.Read(salt)
		if dests[i].ctx, err = srtp.CreateContext(key, salt, profile); err != nil {
			return 0, err
		}
		if i >= floorReceivers {
			dests[i].addr = dests[i%floorReceivers].addr
			continue
		}
		recv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		defer recv.Close()
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := recv.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
				received.Add(1)
			}
		}()
		dests[i].addr = recv.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	send, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer send.Close()

	// One packet of each size, in the stream's mix.
	const pattern = 100
	var plain [pattern][]byte
	for i, size := range floorPattern(mix, pattern) {
		p := make([]byte, size)
		p[0], p[1] = 0x80, 96
		binary.BigEndian.PutUint32(p[8:], 0x1234)
		plain[i] = p
	}
	out := make([]byte, 0, 1500)
	var seq uint16
	burst := func() error {
		seq++
		p := plain[int(seq)%pattern]
		binary.BigEndian.PutUint16(p[2:], seq)
		for _, d := range dests {
			enc, err := d.ctx.EncryptRTP(out, p, nil)
			if err != nil {
				return err
			}
			if _, err := send.WriteToUDPAddrPort(enc, d.addr); err != nil {
				return err
			}
		}
		return nil
	}
	for range 20 { // warm up caches and sockets
		if err := burst(); err != nil {
			return 0, err
		}
		time.Sleep(time.Millisecond)
	}
	received.Store(0)
	bursts := min(max(n/fanout, 10), 2000) // at most 2 s
	var spent time.Duration
	for range bursts {
		before, err := threadCPU()
		if err != nil {
			return 0, err
		}
		if err := burst(); err != nil {
			return 0, err
		}
		after, err := threadCPU()
		if err != nil {
			return 0, err
		}
		spent += after - before
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	return floorPerPacket(spent, int64(bursts*fanout), received.Load())
}

// floorPerPacket is the floor in CPU microseconds per packet: the CPU time
// spent sending sent packets, of which the receivers got received.
func floorPerPacket(spent time.Duration, sent, received int64) (float64, error) {
	if sent <= 0 || spent <= 0 {
		return 0, fmt.Errorf("the floor's thread sent %d packets in %v of CPU time: the measurement is not sound", sent, spent)
	}
	if received < sent*99/100 {
		return 0, fmt.Errorf("the floor's receivers got %d of %d packets: the measurement is not sound", received, sent)
	}
	return float64(spent) / float64(time.Microsecond) / float64(sent), nil
}

// threadCPU is the CPU time of the calling thread. Unlike
// getrusage(RUSAGE_THREAD), CLOCK_THREAD_CPUTIME_ID includes the time since
// the thread was last scheduled in, so short intervals read true.
func threadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}
