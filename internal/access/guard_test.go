package access

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/limit"
)

func TestWrongPasswordsAreBounded(t *testing.T) {
	p, err := New([]Room{
		{Kind: "meeting", Name: "board", StagePassword: quickHash(t, "present")},
		{Kind: "meeting", Name: "vault", StagePassword: quickHash(t, "open")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	p.SetLimits(Limits{PerAddr: 3, PerRoom: 5, Window: time.Minute, Comparisons: 1, Now: func() time.Time { return now }})
	from := func(ip string) netip.Addr { return netip.MustParseAddr(ip) }
	try := func(room, ip, pw string) error {
		_, err := p.Admit(Request{Kind: "meeting", Room: room, Role: Stage, Password: pw, IP: from(ip)})
		return err
	}
	limited := func(what string, err error, words string) {
		t.Helper()
		var e *limit.Error
		if !errors.As(err, &e) || !strings.Contains(e.Error(), words) {
			t.Fatalf("%s: %v, want a refusal saying %q", what, err, words)
		}
	}
	for range 3 {
		if err := try("board", "192.0.2.1", "guess"); !errors.Is(err, ErrBadPassword) {
			t.Fatal(err)
		}
	}
	if n := p.Comparisons(); n != 3 {
		t.Fatalf("%d comparisons for 3 wrong passwords", n)
	}
	limited("a fourth wrong password", try("board", "192.0.2.1", "guess"), "from your address")
	limited("the right one, from the same address", try("board", "192.0.2.1", "present"), "try again in 20 s")
	if n := p.Comparisons(); n != 3 {
		t.Fatalf("refused attempts ran %d comparisons", n-3)
	}
	// Another address gets in, and in again without a comparison.
	for range 2 {
		if err := try("board", "192.0.2.2", "present"); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.Comparisons(); n != 4 {
		t.Fatalf("%d comparisons, want 4: a right password is remembered", n)
	}
	// IPv6 addresses of one /64 share a count.
	for _, ip := range []string{"2001:db8::1", "2001:db8::2", "2001:db8::3"} {
		if err := try("vault", ip, "guess"); !errors.Is(err, ErrBadPassword) {
			t.Fatal(err)
		}
	}
	limited("another address of the /64", try("vault", "2001:db8::4", "guess"), "from your address")
	// The vault has had 3 wrong passwords; two more fill its count.
	for _, ip := range []string{"192.0.2.3", "192.0.2.4"} {
		if err := try("vault", ip, "guess"); !errors.Is(err, ErrBadPassword) {
			t.Fatal(err)
		}
	}
	limited("a sixth wrong password for the vault", try("vault", "192.0.2.5", "guess"), "for this room")
	limited("the right one for the vault", try("vault", "192.0.2.5", "open"), "for this room")
	// Time drains the counts.
	now = now.Add(20 * time.Second)
	if err := try("board", "192.0.2.1", "present"); err != nil {
		t.Errorf("after the wait: %v", err)
	}
	if err := try("vault", "192.0.2.5", "open"); err != nil {
		t.Errorf("the vault after the wait: %v", err)
	}
}

func TestComparisonsWaitForASlot(t *testing.T) {
	p, err := New([]Room{{Name: "show", StagePassword: quickHash(t, "go")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLimits(Limits{Comparisons: 1})
	p.guard.slots <- struct{}{} // a comparison that does not end
	_, err = p.Admit(Request{Room: "show", Role: Stage, Password: "go"})
	var e *limit.Error
	if !errors.As(err, &e) || !strings.Contains(e.Error(), "busy") || p.Comparisons() != 0 {
		t.Fatalf("with no slot free: %v after %d comparisons", err, p.Comparisons())
	}
	<-p.guard.slots
	if _, err := p.Admit(Request{Room: "show", Role: Stage, Password: "go"}); err != nil {
		t.Fatal(err)
	}
}
