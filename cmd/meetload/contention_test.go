package main

import (
	"testing"
	"time"
)

func TestOthersOnTheServerCore(t *testing.T) {
	stat := []byte("cpu  900 0 300 5000 10 0 20 0 0 0\n" +
		"cpu0 500 10 200 2000 5 3 7 40 0 0\n" +
		"cpu1 400 0 100 3000 5 0 13 0 0 0\n")
	c, err := parseCoreTimes(stat, 0)
	if err != nil {
		t.Fatal(err)
	}
	// user, nice, system, irq, softirq: 720 ticks; steal 40.
	if c.busy != 7200*time.Millisecond || c.steal != 400*time.Millisecond {
		t.Errorf("cpu0: busy %v, steal %v; want 7.2s, 400ms", c.busy, c.steal)
	}
	if _, err := parseCoreTimes(stat, 2); err == nil {
		t.Error("cpu2 found in a machine of two cores")
	}
	if _, err := parseCoreTimes([]byte("cpu0 1 2 x 4 5 6 7 8\n"), 0); err == nil {
		t.Error("a field that is no number was taken")
	}
	// In 10 s, the core was busy 4 s and stolen 1 s; the server used 2 s.
	before := coreTimes{busy: time.Second, steal: time.Second}
	after := coreTimes{busy: 5 * time.Second, steal: 2 * time.Second}
	if s := othersShare(before, after, 2*time.Second, 10*time.Second); s != 0.3 {
		t.Errorf("others' share %v, want 0.3", s)
	}
	// The server's CPU time, read at other moments, may exceed the core's.
	if s := othersShare(before, before, time.Second, 10*time.Second); s != 0 {
		t.Errorf("others' share %v, want 0", s)
	}
	if _, err := readCoreTimes(0); err != nil {
		t.Errorf("this machine's /proc/stat: %v", err)
	}
}
