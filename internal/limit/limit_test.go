package limit

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// clock is a time that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock               { return &clock{t: time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)} }
func addr(s string) netip.Addr       { return netip.MustParseAddr(s) }
func refusal(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want a refusal", err)
	}
	return e
}

func TestAddr(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::"},
		{"2001:db8:1:2::1", "2001:db8:1:2::"},
		{"fe80::1%eth0", "fe80::"},
	} {
		if got := Addr(addr(tt.in)); got != addr(tt.want) {
			t.Errorf("Addr(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"192.0.2.7:4000", "192.0.2.7"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"198.51.100.9", "198.51.100.9"},
		{"2001:db8::2", "2001:db8::2"},
	} {
		if got := ParseAddr(tt.in); got != addr(tt.want) {
			t.Errorf("ParseAddr(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if ParseAddr("pipe").IsValid() || ParseAddr("").IsValid() {
		t.Error("ParseAddr made an address of nothing")
	}
}

func TestHolds(t *testing.T) {
	r := PerAddr(Config{Name: "connections", Max: 2})
	a := addr("192.0.2.1")
	r1, err := r.Acquire(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Acquire(a); err != nil {
		t.Fatal(err)
	}
	_, err = r.Acquire(a)
	e := refusal(t, err)
	if want := "Too many connections from your address (2 at once); try again in 30 s."; e.Error() != want || e.Seconds() != 30 {
		t.Errorf("refusal %q (%d s), want %q", e, e.Seconds(), want)
	}
	if _, err := r.Acquire(addr("192.0.2.2")); err != nil {
		t.Errorf("another address: %v", err)
	}
	r1()
	r1() // releasing twice frees one hold, not two
	if _, err := r.Acquire(a); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := r.Acquire(a); err == nil {
		t.Fatal("a second release freed a second hold")
	}

	// IPv6 counts by the /64.
	v6 := PerAddr(Config{Name: "sessions", Max: 1})
	if _, err := v6.Acquire(addr("2001:db8:0:1::a")); err != nil {
		t.Fatal(err)
	}
	if _, err := v6.Acquire(addr("2001:db8:0:1::b")); err == nil {
		t.Error("another address of the same /64 was counted apart")
	}
	if _, err := v6.Acquire(addr("2001:db8:0:2::a")); err != nil {
		t.Errorf("another /64: %v", err)
	}
}

func TestRate(t *testing.T) {
	c := newClock()
	r := PerAddr(Config{Name: "rooms opened", Events: 3, Window: time.Minute, Now: c.now})
	a := addr("192.0.2.1")
	for range 3 {
		release, err := r.Acquire(a)
		if err != nil {
			t.Fatal(err)
		}
		release() // the rate counts starts, not what is held
	}
	_, err := r.Acquire(a)
	e := refusal(t, err)
	if want := "Too many rooms opened from your address (3 a minute); try again in 20 s."; e.Error() != want {
		t.Errorf("refusal %q, want %q", e, want)
	}
	c.add(19 * time.Second)
	if _, err := r.Acquire(a); err == nil {
		t.Fatal("allowed before the bucket refilled")
	}
	c.add(time.Second)
	if _, err := r.Acquire(a); err != nil {
		t.Fatalf("after the wait it named: %v", err)
	}
}

func TestTry(t *testing.T) {
	c := newClock()
	r := New[string](Config{Name: "wrong passwords", From: "for this room", Events: 2, Window: 10 * time.Minute, Now: c.now})
	d1, err := r.Try("board")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := r.Try("board")
	if err != nil {
		t.Fatal(err)
	}
	// Two under way use up what is left.
	if _, err := r.Try("board"); err == nil {
		t.Fatal("a third attempt ran beside two with two allowed")
	}
	d1(false) // a right password does not count
	d3, err := r.Try("board")
	if err != nil {
		t.Fatalf("after an attempt that did not count: %v", err)
	}
	d2(true)
	d3(true)
	d3(true) // once only
	_, err = r.Try("board")
	e := refusal(t, err)
	if want := "Too many wrong passwords for this room (2 in 10 min); try again in 5 min."; e.Error() != want || e.Seconds() != 300 {
		t.Errorf("refusal %q (%d s), want %q", e, e.Seconds(), want)
	}
	c.add(5 * time.Minute)
	if _, err := r.Try("board"); err != nil {
		t.Errorf("after the wait: %v", err)
	}
}

func TestForgetsIdleKeys(t *testing.T) {
	c := newClock()
	r := PerAddr(Config{Name: "rooms opened", Max: 5, Events: 5, Window: time.Minute, Now: c.now})
	var held func()
	for i := range 3000 {
		release, err := r.Acquire(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			held = release
		} else {
			release()
		}
	}
	c.add(2 * time.Minute)
	if _, err := r.Acquire(addr("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	// What is left: the key still holding something, and the new one.
	if n := r.Len(); n != 2 {
		t.Errorf("%d keys remembered, want 2", n)
	}
	held()
}

func TestInactive(t *testing.T) {
	var none *Registry[netip.Addr]
	if release, err := none.Acquire(addr("192.0.2.1")); err != nil || release == nil {
		t.Error("a nil registry refused")
	}
	if done, err := none.Try(addr("192.0.2.1")); err != nil || done == nil {
		t.Error("a nil registry refused a try")
	}
	r := PerAddr(Config{})
	for range 100 {
		if _, err := r.Acquire(addr("192.0.2.1")); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len() != 0 {
		t.Error("a registry without bounds keeps keys")
	}
}

func TestLogIsSampled(t *testing.T) {
	var out bytes.Buffer
	l := NewLog(slog.New(slog.NewTextHandler(&out, nil)))
	for range 1000 {
		l.Refused("refused")
	}
	if n := strings.Count(out.String(), "\n"); n < 1 || n > 12 {
		t.Errorf("%d lines for 1000 refusals", n)
	}
	var none *Log
	none.Refused("nothing")
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "1 s", 400 * time.Millisecond: "1 s", 40 * time.Second: "40 s", 119 * time.Second: "119 s",
		121 * time.Second: "3 min", time.Hour: "60 min", 3 * time.Hour: "3 h",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}
