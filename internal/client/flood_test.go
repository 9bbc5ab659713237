package client

import (
	"testing"
	"time"
)

// Drops over the rate limit count within a window: bursts spread over a
// long life never add up to a cut.
func TestFloodMeterForgets(t *testing.T) {
	var f floodMeter
	start := time.Unix(1_000_000, 0)
	for i := range 100 {
		// 100 bursts of 50 drops, two minutes apart: 5,000 in all.
		at := start.Add(time.Duration(i) * 2 * time.Minute)
		for j := range 50 {
			if n := f.drop(at.Add(time.Duration(j) * time.Millisecond)); n >= maxDropped {
				t.Fatalf("burst %d: %d drops counted, the connection would be cut", i, n)
			}
		}
	}
	// A flood within one window is still cut.
	at := start.Add(time.Hour * 24)
	n := 0
	for range maxDropped {
		n = f.drop(at)
	}
	if n < maxDropped {
		t.Fatalf("a flood of %d drops counted %d", maxDropped, n)
	}
}
