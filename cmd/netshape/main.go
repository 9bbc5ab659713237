// Command netshape is a network emulator for the bad-network browser tests
// (e2e/lib/netem.mjs): it joins two TUN devices, and what one side sends
// reaches the other after the bottleneck of a shaped link: random loss, a
// rate with a drop-tail queue of a byte limit, and a propagation delay with
// jitter that does not reorder. This kernel has no netem, so the harness
// does in user space what `tc qdisc netem` and `tbf` would.
//
// It makes the devices (-a and -b, point to point, no packet information),
// prints READY, then reads settings as JSON lines on stdin
// ({"down":{"rateBps":600000,"queueBytes":22500,"delayMs":20,"jitterMs":0,"loss":0.03},"up":{...}};
// "down" is what a sends to b) and prints, every -every, a JSON line of
// what each direction did: the queueing delay a packet would see now,
// packets and bytes passed, dropped by loss and by the queue. The devices
// go when it exits: the harness moves b into the viewer's namespace.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Shape is one direction's link.
type Shape struct {
	RateBps    float64 `json:"rateBps"`    // 0: no bottleneck
	QueueBytes int     `json:"queueBytes"` // the bottleneck's queue; 0: 64 KiB
	DelayMs    float64 `json:"delayMs"`    // one way, after the bottleneck
	JitterMs   float64 `json:"jitterMs"`   // uniform ± on the delay, without reordering
	Loss       float64 `json:"loss"`       // random, before the bottleneck
}

// Settings are both directions' shapes.
type Settings struct {
	Down Shape `json:"down"`
	Up   Shape `json:"up"`
}

// Counts are what one direction did since it started.
type Counts struct {
	QueueMs    float64 `json:"queueMs"`
	Packets    int64   `json:"packets"`
	Bytes      int64   `json:"bytes"`
	LossDrops  int64   `json:"lossDrops"`
	QueueDrops int64   `json:"queueDrops"`
}

type packet struct {
	at   time.Time
	data []byte
}

// link is one direction: packets read from one device wait in a FIFO
// until their time, then are written to the other.
type link struct {
	out *os.File
	// mu guards everything below.
	mu     sync.Mutex
	shape  Shape
	free   time.Time // when the bottleneck is free of what is queued
	last   time.Time // the latest delivery time given, so nothing reorders
	fifo   []packet
	wake   chan struct{}
	counts Counts
}

func newLink(out *os.File) *link {
	return &link{out: out, wake: make(chan struct{}, 1)}
}

func (l *link) set(s Shape) {
	l.mu.Lock()
	l.shape = s
	l.mu.Unlock()
}

// arrive takes a packet read from the device.
func (l *link) arrive(data []byte, now time.Time) {
	l.mu.Lock()
	s := l.shape
	if s.Loss > 0 && rand.Float64() < s.Loss {
		l.counts.LossDrops++
		l.mu.Unlock()
		return
	}
	depart := now
	if s.RateBps > 0 {
		if l.free.Before(now) {
			l.free = now
		}
		limit := s.QueueBytes
		if limit <= 0 {
			limit = 64 << 10
		}
		// The bytes still queued before this packet.
		queued := l.free.Sub(now).Seconds() * s.RateBps / 8
		if int(queued)+len(data) > limit {
			l.counts.QueueDrops++
			l.mu.Unlock()
			return
		}
		l.free = l.free.Add(time.Duration(float64(len(data)*8) / s.RateBps * float64(time.Second)))
		depart = l.free
	}
	delay := s.DelayMs
	if s.JitterMs > 0 {
		delay += (rand.Float64()*2 - 1) * s.JitterMs
	}
	at := depart.Add(time.Duration(delay * float64(time.Millisecond)))
	if at.Before(l.last) {
		at = l.last
	}
	l.last = at
	l.fifo = append(l.fifo, packet{at: at, data: data})
	l.counts.Packets++
	l.counts.Bytes += int64(len(data))
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// deliver writes each packet out at its time.
func (l *link) deliver() {
	timer := time.NewTimer(time.Hour)
	for {
		l.mu.Lock()
		var next *packet
		if len(l.fifo) > 0 {
			p := l.fifo[0]
			next = &p
			if !time.Now().Before(p.at) {
				l.fifo = l.fifo[1:]
				if len(l.fifo) == 0 {
					l.fifo = nil
				}
			}
		}
		l.mu.Unlock()
		if next != nil && !time.Now().Before(next.at) {
			l.out.Write(next.data) // a full device queue drops it, as a link would
			continue
		}
		wait := time.Hour
		if next != nil {
			wait = time.Until(next.at)
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-l.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

func (l *link) snapshot(now time.Time) Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.counts
	if l.free.After(now) {
		c.QueueMs = float64(l.free.Sub(now)) / float64(time.Millisecond)
	}
	return c
}

// openTUN makes a TUN device called name (IP packets, no header).
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, errno)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func pump(in *os.File, l *link) {
	for {
		buf := make([]byte, 2048)
		n, err := in.Read(buf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "netshape: read", in.Name()+":", err)
			os.Exit(1)
		}
		l.arrive(buf[:n], time.Now())
	}
}

func main() {
	a := flag.String("a", "", "the TUN device on the sending (server) side")
	b := flag.String("b", "", "the TUN device on the viewer's side")
	every := flag.Duration("every", 250*time.Millisecond, "how often to print the counts")
	flag.Parse()
	if *a == "" || *b == "" {
		fmt.Fprintln(os.Stderr, "netshape: -a and -b name the two TUN devices")
		os.Exit(2)
	}
	da, err := openTUN(*a)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netshape:", err)
		os.Exit(1)
	}
	db, err := openTUN(*b)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netshape:", err)
		os.Exit(1)
	}
	down, up := newLink(db), newLink(da)
	go pump(da, down)
	go pump(db, up)
	go down.deliver()
	go up.deliver()

	out := json.NewEncoder(os.Stdout)
	fmt.Println("READY")
	go func() {
		for range time.Tick(*every) {
			now := time.Now()
			out.Encode(map[string]any{"t": now.UnixMilli(), "down": down.snapshot(now), "up": up.snapshot(now)})
		}
	}()
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			var s Settings
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				fmt.Fprintln(os.Stderr, "netshape: bad settings:", err)
				continue
			}
			down.set(s.Down)
			up.set(s.Up)
		}
		// stdin closed: the harness is gone.
		os.Exit(0)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
}
