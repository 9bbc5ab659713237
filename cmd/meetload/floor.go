package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/pion/srtp/v3"
	"golang.org/x/sys/unix"
)

// The floor is the work meetd does for one forwarded packet at its best,
// and no less: each packet of the run's sizes and mix is copied once into
// a batch slot, sealed there in place with AES-GCM (SRTP's layout, each
// destination with its own keys and SSRC: srtpSealer), and sent with the
// others of its fan-out by sendmmsg, 64 at most a call, from an IPv4 socket
// with don't-fragment set, to as many real loopback sockets as the run
// had subscribers per published packet. Fan-outs follow each other as the
// run's did (its forwarded packets a second over the fan-out), so that
// each finds the receivers asleep as often as meetd's did: waking a
// receiver is most of a small fan-out's cost. Its cost is the sending
// thread's CPU time during the fan-outs, user and system, pinned to
// meetd's core, measured once meetd is idle: after the window, with the
// run's clients gone and a meetd the tool started stopped.
//
// meetd does all of that, and more: it reads and decrypts the published
// packet, copies it once more (from the read loop's buffer to the batch
// slot), and keeps connections alive. Its CPU per forwarded packet over
// the floor is what that costs; the ratio is at least 1 unless the floor
// was measured in a slower hour than the window.

// floorSpec is what one floor measurement sends.
type floorSpec struct {
	// keyLen is the AES key length of the run's AES-GCM profile.
	keyLen int
	// fanout is how many destinations each packet goes to; packets is
	// about how many packets to send in all.
	fanout, packets int
	// mix is the sizes of the RTP packets (before SRTP) and their shares.
	mix []sizeShare
	// interval is the time from one fan-out to the next.
	interval time.Duration
}

// fanOutInterval is the time from one fan-out of fanout packets to the
// next at pps forwarded packets a second, within 50 µs and 20 ms.
func fanOutInterval(fanout int, pps float64) time.Duration {
	if pps <= 0 {
		return time.Millisecond
	}
	d := time.Duration(float64(time.Second) * float64(max(fanout, 1)) / pps)
	return min(max(d, 50*time.Microsecond), 20*time.Millisecond)
}

// floorPasses is how many times the floor is measured after a window; the
// floor is their median.
const floorPasses = 3

// gcmKeyLen is the AES key length of an AES-GCM SRTP profile, by the name
// pion's stats give it; the floor seals as meetd does, which is AES-GCM
// (meetd's preferred profiles): other profiles have no floor.
func gcmKeyLen(name string) (int, error) {
	for _, p := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAeadAes256Gcm} {
		if p.String() == name {
			return p.KeyLen()
		}
	}
	return 0, fmt.Errorf("the run negotiated SRTP profile %q; the floor seals with AES-GCM, as meetd does", name)
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

// onPinnedThread runs f on a thread of its own, pinned to cpu (-1: any).
// The rest of the tool keeps running meanwhile, on its own cores, to drain
// the sockets f sends to.
func onPinnedThread(cpu int, f func() error) error {
	prev := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(prev + 1)
	defer runtime.GOMAXPROCS(prev)
	done := make(chan error, 1)
	go func() {
		// The thread stays locked: it exits with this goroutine, so its
		// affinity never leaks to other goroutines.
		runtime.LockOSThread()
		if cpu >= 0 {
			var set unix.CPUSet
			set.Set(cpu)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				done <- fmt.Errorf("pin to cpu %d: %w", cpu, err)
				return
			}
		}
		done <- f()
	}()
	return <-done
}

// measureFloor is the floor of spec in CPU microseconds per packet, on
// cpu (-1: any).
func measureFloor(cpu int, spec floorSpec) (float64, error) {
	var us float64
	err := onPinnedThread(cpu, func() error {
		var err error
		us, err = floorOnThread(spec)
		return err
	})
	return us, err
}

// floorReceivers bounds the sockets the floor sends to; beyond, several
// destinations share one.
const floorReceivers = 256

// floorDest is one subscriber of the floor: its keys and SSRC, and its
// socket's address.
type floorDest struct {
	seal *srtpSealer
	addr *unix.RawSockaddrInet4
}

// fanOut sends each packet of plain in turn to every destination, as
// meetd's fan-out does at its best: into a batch slot, sealed there,
// batches sent with sendmmsg.
type fanOut struct {
	snd   *udpSender
	dests []floorDest
	plain [][]byte
	seq   uint16
	slots [sendBatch][maxDatagram]byte
}

// burst sends the next packet to every destination.
func (f *fanOut) burst() error {
	f.seq++
	p := f.plain[int(f.seq)%len(f.plain)]
	binary.BigEndian.PutUint16(p[2:], f.seq)
	k := 0
	for i := range f.dests {
		d := &f.dests[i]
		buf := f.slots[k][:]
		n := copy(buf, p)
		binary.BigEndian.PutUint32(buf[8:], d.seal.ssrc)
		f.snd.setMsg(k, d.seal.seal(buf, rtpHeaderBytes, n), d.addr)
		if k++; k == sendBatch {
			if err := f.snd.sendmmsg(k); err != nil {
				return err
			}
			k = 0
		}
	}
	if k == 0 {
		return nil
	}
	return f.snd.sendmmsg(k)
}

func floorOnThread(spec floorSpec) (float64, error) {
	fanout := max(spec.fanout, 1)
	sk, err := newSinks(min(fanout, floorReceivers))
	if err != nil {
		return 0, err
	}
	defer sk.close()
	snd, err := newUDPSender()
	if err != nil {
		return 0, err
	}
	defer snd.close()
	f := &fanOut{snd: snd, dests: make([]floorDest, fanout), plain: floorPackets(spec.mix)}
	for i := range f.dests {
		key, salt := make([]byte, spec.keyLen), make([]byte, 12)
		_, _ = rand.Read(key)
		_, _ = rand.Read(salt)
		if f.dests[i].seal, err = newSRTPSealer(key, salt, 0x10000+uint32(i)); err != nil {
			return 0, err
		}
		f.dests[i].addr = &sk.addrs[i%len(sk.addrs)]
	}
	const warm = 20 // caches, sockets, the receivers' goroutines
	for range warm {
		if err := f.burst(); err != nil {
			return 0, err
		}
		time.Sleep(spec.interval)
	}
	base := sk.waitFor(warm*int64(fanout), 5*time.Second)
	overhead, err := clockOverhead()
	if err != nil {
		return 0, err
	}
	// About spec.packets, at most about 2 s of fan-outs, at least 10.
	bursts := max(min(spec.packets/fanout, int(2*time.Second/max(spec.interval, time.Microsecond))), 10)
	var spent time.Duration
	for range bursts {
		before, err := threadCPU()
		if err != nil {
			return 0, err
		}
		if err := f.burst(); err != nil {
			return 0, err
		}
		after, err := threadCPU()
		if err != nil {
			return 0, err
		}
		spent += after - before
		time.Sleep(spec.interval)
	}
	sent := int64(bursts * fanout)
	got := sk.waitFor(base+sent, 5*time.Second) - base
	return floorPerPacket(spent, time.Duration(bursts)*overhead, sent, got)
}

// floorPackets are RTP packets (12-byte header, random payload) of the
// sizes of mix, interleaved in its shares.
func floorPackets(mix []sizeShare) [][]byte {
	const pattern = 100
	var plain [][]byte
	for _, size := range floorPattern(mix, pattern) {
		p := make([]byte, min(max(size, rtpHeaderBytes), 1500))
		_, _ = rand.Read(p[rtpHeaderBytes:])
		p[0], p[1] = 0x80, 96
		plain = append(plain, p)
	}
	return plain
}

// floorPerPacket is the floor in CPU microseconds per packet: the CPU time
// spent sending sent packets, less overhead, the cost of the clock reads
// around the fan-outs; of the packets, the receivers got received.
func floorPerPacket(spent, overhead time.Duration, sent, received int64) (float64, error) {
	work := spent - overhead
	if sent <= 0 || work <= 0 {
		return 0, fmt.Errorf("the floor's thread sent %d packets in %v of CPU time (%v of it reading the clock): the measurement is not sound",
			sent, spent, overhead)
	}
	if received < sent*99/100 {
		return 0, fmt.Errorf("the floor's receivers got %d of %d packets: the measurement is not sound", received, sent)
	}
	return float64(work) / float64(time.Microsecond) / float64(sent), nil
}

// medianFloor is the median of the floor's passes that came to a
// positive, finite figure; 0 if none did.
func medianFloor(passes []float64) float64 {
	var ok []float64
	for _, p := range passes {
		if p > 0 && !math.IsInf(p, 0) {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return 0
	}
	slices.Sort(ok)
	if len(ok)%2 == 1 {
		return ok[len(ok)/2]
	}
	return (ok[len(ok)/2-1] + ok[len(ok)/2]) / 2
}

// threadCPU is the CPU time of the calling thread, user and system: the
// kernel's sum of the thread's run time, which /proc/thread-self/schedstat
// also shows, read without opening a file. Unlike
// getrusage(RUSAGE_THREAD), CLOCK_THREAD_CPUTIME_ID includes the time
// since the thread was last scheduled in, so short intervals read true.
func threadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// clockOverhead is what a pair of threadCPU reads around nothing adds to
// the CPU time they measure: the median of many.
func clockOverhead() (time.Duration, error) {
	d := make([]time.Duration, 101)
	for i := range d {
		a, err := threadCPU()
		if err != nil {
			return 0, err
		}
		b, err := threadCPU()
		if err != nil {
			return 0, err
		}
		d[i] = b - a
	}
	slices.Sort(d)
	return d[len(d)/2], nil
}
