// Package limit keeps per-client bookkeeping for meetd's limits: how many of
// something one client address holds at once (connections, rooms, sessions),
// and how fast it may start or try something (rooms a minute, wrong
// passwords), with a refusal that says in words which limit it met and when
// to try again. A registry forgets a key once it holds nothing and its rate
// is back to full, so it stays as small as the set of clients that are
// active or were recently over a rate.
package limit

import (
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// HeldRetry is the wait a refusal for holding too much suggests: nothing
// says when the client will let go of something, so it is a guess that
// lets a person see the reason before a retry.
const HeldRetry = 30 * time.Second

// sweepEvery is how often at most a registry looks for keys to forget,
// unless it has grown a lot since it last did.
const sweepEvery = time.Minute

// Config is one limit, applied to each key on its own.
type Config struct {
	// Name is what is counted, for the words of a refusal: "connections".
	Name string
	// From says whose they are: "from your address" when empty.
	From string
	// Max is how many a key may hold at once; 0 means no bound.
	Max int
	// Events in Window bound how fast a key may start or try something: a
	// token bucket that holds Events and refills over Window. 0 events
	// means no bound.
	Events int
	Window time.Duration
	// Log, when set, gets a line for refusals, a few a second at most.
	Log *slog.Logger
	// Now is the clock; nil is time.Now. Tests set it to move time on.
	Now func() time.Time
}

// Registry applies one Config to every key it is asked about.
type Registry[K comparable] struct {
	cfg   Config
	every rate.Limit
	now   func() time.Time
	log   *Log
	// key, when set, maps a key to the one it is counted under.
	key func(K) K

	// mu protects keys, swept and sweptLen, and the entries' counts and
	// buckets.
	mu       sync.Mutex
	keys     map[K]*entry
	swept    time.Time
	sweptLen int
}

type entry struct {
	held    int // holds not yet released
	pending int // tries that have not said yet whether they count
	bucket  *rate.Limiter
}

// New makes a registry for cfg.
func New[K comparable](cfg Config) *Registry[K] {
	r := &Registry[K]{cfg: cfg, now: cfg.Now, keys: map[K]*entry{}}
	if r.now == nil {
		r.now = time.Now
	}
	if r.cfg.From == "" {
		r.cfg.From = "from your address"
	}
	if cfg.Events > 0 && cfg.Window > 0 {
		r.every = rate.Limit(float64(cfg.Events) / cfg.Window.Seconds())
	} else {
		r.cfg.Events = 0
	}
	if cfg.Log != nil {
		r.log = NewLog(cfg.Log)
	}
	return r
}

// PerAddr makes a registry keyed by client address: IPv4 addresses as they
// are, IPv6 ones by their /64 (see Addr).
func PerAddr(cfg Config) *Registry[netip.Addr] {
	r := New[netip.Addr](cfg)
	r.key = Addr
	return r
}

// Addr is the key a client address is counted under. An IPv6 client is
// counted by its /64: one household or customer usually gets a whole /64,
// and picking a new address in it costs nothing.
func Addr(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// ParseAddr reads the address of "host:port" or of a bare address, and is
// the zero Addr for anything else.
func ParseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr()
	}
	a, _ := netip.ParseAddr(s)
	return a
}

// Active reports whether the registry bounds anything.
func (r *Registry[K]) Active() bool {
	return r != nil && (r.cfg.Max > 0 || r.cfg.Events > 0)
}

// Acquire takes a hold for key, and one event of its rate. The hold lasts
// until release is called (more than once is fine). When key holds Max
// already, or its rate is spent, the error is an *Error.
func (r *Registry[K]) Acquire(key K) (release func(), err error) {
	if !r.Active() {
		return func() {}, nil
	}
	if r.key != nil {
		key = r.key(key)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	e := r.entry(key, now)
	if r.cfg.Max > 0 && e.held >= r.cfg.Max {
		return nil, r.refuse(key, fmt.Sprintf("%d at once", r.cfg.Max), HeldRetry)
	}
	if d := r.wait(e, now); d > 0 {
		return nil, r.refuse(key, r.per(), d)
	}
	if e.bucket != nil {
		e.bucket.ReserveN(now, 1)
	}
	e.held++
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			e.held--
			r.mu.Unlock()
		})
	}, nil
}

// Try starts an attempt for key that may count against its rate: done
// says, once the attempt is over, whether it counts (a wrong password
// does, a right one does not). Attempts under way are set against what is
// left, so many at once cannot overrun the rate. When the rate is spent,
// the error is an *Error.
func (r *Registry[K]) Try(key K) (done func(counts bool), err error) {
	if r == nil || r.cfg.Events == 0 {
		return func(bool) {}, nil
	}
	if r.key != nil {
		key = r.key(key)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	e := r.entry(key, now)
	if d := r.wait(e, now); d > 0 {
		return nil, r.refuse(key, r.per(), d)
	}
	e.pending++
	var once sync.Once
	return func(counts bool) {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			e.pending--
			if counts {
				e.bucket.ReserveN(r.now(), 1)
			}
		})
	}, nil
}

// Len is how many keys the registry remembers.
func (r *Registry[K]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

// entry finds or makes key's entry; r.mu is held.
func (r *Registry[K]) entry(key K, now time.Time) *entry {
	r.sweep(now)
	e := r.keys[key]
	if e == nil {
		e = &entry{}
		if r.cfg.Events > 0 {
			e.bucket = rate.NewLimiter(r.every, r.cfg.Events)
		}
		r.keys[key] = e
	}
	return e
}

// wait is how long until e's rate allows one more event beyond those
// pending; r.mu is held.
func (r *Registry[K]) wait(e *entry, now time.Time) time.Duration {
	if e.bucket == nil {
		return 0
	}
	need := float64(e.pending+1) - e.bucket.TokensAt(now)
	if need <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(need / float64(r.every) * float64(time.Second)))
}

// sweep forgets the keys that hold nothing and whose rate is full again,
// as a new key's would be; r.mu is held. It runs every sweepEvery, or
// sooner when the registry has doubled, so its cost is spread thin.
func (r *Registry[K]) sweep(now time.Time) {
	if now.Sub(r.swept) < sweepEvery && len(r.keys) < 2*r.sweptLen+1024 {
		return
	}
	for k, e := range r.keys {
		if e.held == 0 && e.pending == 0 && (e.bucket == nil || e.bucket.TokensAt(now) >= float64(r.cfg.Events)) {
			delete(r.keys, k)
		}
	}
	r.swept, r.sweptLen = now, len(r.keys)
}

func (r *Registry[K]) per() string {
	if r.cfg.Window == time.Minute {
		return fmt.Sprintf("%d a minute", r.cfg.Events)
	}
	return fmt.Sprintf("%d in %s", r.cfg.Events, Duration(r.cfg.Window))
}

func (r *Registry[K]) refuse(key K, bound string, retry time.Duration) *Error {
	e := &Error{Reason: fmt.Sprintf("Too many %s %s (%s)", r.cfg.Name, r.cfg.From, bound), RetryAfter: retry}
	r.log.Refused("refused: over a limit", "limit", r.cfg.Name, "key", key, "bound", bound, "retry_after", retry.Round(time.Second))
	return e
}

// Error is a refusal by a limit: which one, in words, and when to try again.
type Error struct {
	// Reason is a sentence without its full stop: "Too many connections
	// from your address (2000 at once)".
	Reason     string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return e.Reason + "; try again in " + Duration(e.RetryAfter) + "."
}

// Seconds is RetryAfter in whole seconds, rounded up, at least 1: the value
// of a Retry-After header.
func (e *Error) Seconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

// Duration says d in words, rounded up: "40 s", "3 min", "2 h".
func Duration(d time.Duration) string {
	s := max(1, int(math.Ceil(d.Seconds())))
	switch {
	case s < 120:
		return fmt.Sprintf("%d s", s)
	case s < 2*3600:
		return fmt.Sprintf("%d min", (s+59)/60)
	}
	return fmt.Sprintf("%d h", (s+3599)/3600)
}
