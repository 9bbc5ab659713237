package access

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/meetd/meetd/internal/limit"
)

// Limits bound password guessing. A wrong password costs a bcrypt
// comparison, tens of milliseconds of a core: without bounds a few
// connections guessing take the cores from everyone. Zero values mean no
// bound.
type Limits struct {
	// PerAddr and PerRoom are how many wrong passwords one client address,
	// and one room from all addresses, may send in Window. Past that,
	// attempts are refused without a comparison until the count has
	// drained enough for one more (Window/PerAddr for an address).
	PerAddr, PerRoom int
	Window           time.Duration
	// Comparisons is how many bcrypt comparisons run at once, server-wide;
	// an attempt waits for one at most comparisonWait, and is refused
	// after that.
	Comparisons int
	// Log gets the refusals, a few a second at most.
	Log *slog.Logger
	// Now is the limits' clock; nil is time.Now. Tests set it.
	Now func() time.Time
}

const (
	// comparisonWait bounds the wait for a free comparison.
	comparisonWait = 2 * time.Second
	// busyRetry is what an attempt refused for want of one is told.
	busyRetry = 5 * time.Second
	// rememberFor and remembered bound the passwords remembered as right:
	// people who reconnect or come back within the hour do not cost a
	// comparison again.
	rememberFor = time.Hour
	remembered  = 4096
)

// guard spends the bcrypt work of a policy: it refuses attempts from an
// address or for a room that has had too many wrong passwords, runs a
// bounded number of comparisons at once, and remembers right passwords.
type guard struct {
	byAddr *limit.Registry[netip.Addr]
	byRoom *limit.Registry[string]
	// slots holds a token for each comparison running; nil: no bound.
	slots chan struct{}
	log   *limit.Log
	cache *verified
	// compared counts bcrypt comparisons run.
	compared atomic.Uint64
}

func newGuard(l Limits) *guard {
	g := &guard{
		byAddr: limit.PerAddr(limit.Config{Name: "wrong passwords", Events: l.PerAddr, Window: l.Window, Log: l.Log, Now: l.Now}),
		byRoom: limit.New[string](limit.Config{Name: "wrong passwords", From: "for this room", Events: l.PerRoom, Window: l.Window, Log: l.Log, Now: l.Now}),
		cache:  newVerified(),
	}
	if l.Comparisons > 0 {
		g.slots = make(chan struct{}, l.Comparisons)
	}
	if l.Log != nil {
		g.log = limit.NewLog(l.Log)
	}
	return g
}

// check says whether password is right for one of hashes (empty ones are
// skipped). room keys the room's count; ip is where the attempt comes from.
func (g *guard) check(ip netip.Addr, room, password string, hashes ...string) error {
	addrDone, err := g.byAddr.Try(ip)
	if err != nil {
		return err
	}
	roomDone, err := g.byRoom.Try(room)
	if err != nil {
		addrDone(false)
		return err
	}
	wrong := false
	defer func() {
		addrDone(wrong)
		roomDone(wrong)
	}()
	for _, h := range hashes {
		if h == "" {
			continue
		}
		ok, err := g.matches(h, password)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	wrong = true
	return ErrBadPassword
}

// matches compares password with hash, from memory when it was right
// lately, otherwise with bcrypt in one of the slots.
func (g *guard) matches(hash, password string) (bool, error) {
	key := g.cache.key(hash, password)
	if g.cache.has(key) {
		return true, nil
	}
	if g.slots != nil {
		t := time.NewTimer(comparisonWait)
		select {
		case g.slots <- struct{}{}:
			t.Stop()
			defer func() { <-g.slots }()
		case <-t.C:
			g.log.Refused("refused: password comparisons busy", "waited", comparisonWait, "running", cap(g.slots))
			return false, &limit.Error{Reason: "meetd is busy checking other passwords", RetryAfter: busyRetry}
		}
	}
	g.compared.Add(1)
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return false, nil
	}
	g.cache.add(key)
	return true, nil
}

// verified remembers right (hash, password) pairs for rememberFor. It
// keeps an HMAC of the pair under a key made at start, never the password.
type verified struct {
	secret []byte
	// mu protects until.
	mu    sync.Mutex
	until map[[sha256.Size]byte]time.Time
}

func newVerified() *verified {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return &verified{secret: secret, until: map[[sha256.Size]byte]time.Time{}}
}

func (v *verified) key(hash, password string) [sha256.Size]byte {
	m := hmac.New(sha256.New, v.secret)
	m.Write([]byte(hash))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var k [sha256.Size]byte
	m.Sum(k[:0])
	return k
}

func (v *verified) has(k [sha256.Size]byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	until, ok := v.until[k]
	if !ok {
		return false
	}
	now := time.Now()
	if now.After(until) {
		delete(v.until, k)
		return false
	}
	v.until[k] = now.Add(rememberFor)
	return true
}

func (v *verified) add(k [sha256.Size]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := time.Now()
	if len(v.until) >= remembered {
		for old, until := range v.until {
			if now.After(until) {
				delete(v.until, old)
			}
		}
		// Still full: forget any one; it costs one comparison later.
		for old := range v.until {
			if len(v.until) < remembered {
				break
			}
			delete(v.until, old)
		}
	}
	v.until[k] = now.Add(rememberFor)
}
