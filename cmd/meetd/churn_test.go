package main

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// TestJoinLeaveCyclesLeaveNothingBehind runs many viewers through a live
// broadcast, each connecting for real and receiving media before it
// leaves, and checks that goroutines and heap return to where they were.
func TestJoinLeaveCyclesLeaveNothingBehind(t *testing.T) {
	cycles := 1000
	if testing.Short() {
		cycles = 100
	}
	checkLeaks(t)
	m := runMeetd(t, Config{})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	pub := goLive(t, ctx, url, "churn", testclient.Options{})
	defer pub.Close()
	cycle := func() error {
		c, err := testclient.Dial(ctx, url, testclient.Options{})
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Join(ctx, "churn", signal.RoleAudience); err != nil {
			return err
		}
		return c.WaitMedia(ctx, 1, 1)
	}
	// Warm up, then take the baseline.
	for range 20 {
		if err := cycle(); err != nil {
			t.Fatal(err)
		}
	}
	goroutines, heap := settle()
	t.Logf("baseline: %d goroutines, %d KiB heap", goroutines, heap>>10)

	const parallel = 25
	work := make(chan struct{})
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if err := cycle(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	start := time.Now()
feed:
	for range cycles {
		select {
		case work <- struct{}{}:
		case err := <-errs:
			t.Error(err)
			break feed
		}
	}
	close(work)
	wg.Wait()
	t.Logf("%d cycles in %v", cycles, time.Since(start).Round(time.Millisecond))

	// Everything a viewer held is gone once the server has had a moment.
	settled, cancelSettled := context.WithTimeout(ctx, 10*time.Second)
	defer cancelSettled()
	var g int
	var h uint64
	var live int64
	defer func() {
		if t.Failed() {
			t.Logf("after %d cycles: %d goroutines (baseline %d), %d KiB heap (baseline %d KiB), %d subscribe connections still sending",
				cycles, g, goroutines, h>>10, heap>>10, live)
		}
	}()
	waitUntil(t, settled, "goroutines, heap and subscribe connections back to the baseline", func() bool {
		g, h = settle()
		paths := m.api.Counters().Snapshot().SendPaths
		live = paths[sfu.SendShared] + paths[sfu.SendICE] + paths[sfu.SendPion]
		return g <= goroutines+5 && h <= heap+heap/2+(2<<20) && live == 0
	})
	t.Logf("after: %d goroutines, %d KiB heap", g, h>>10)
	// And the broadcast still reaches a new viewer.
	if err := cycle(); err != nil {
		t.Fatal(err)
	}
}

func settle() (goroutines int, heap uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}

// TestAudienceCountComesOnceASecond: while viewers arrive one after another,
// a viewer is told the audience's size at most about once a second, and is
// told the final size once they stop.
func TestAudienceCountComesOnceASecond(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first := dial(t, ctx, url, testclient.Options{})
	defer first.Close()
	join(t, ctx, first, "default", signal.RoleAudience)
	const arrivals = 20
	start := time.Now()
	for range arrivals {
		v := dial(t, ctx, url, testclient.Options{})
		defer v.Close()
		join(t, ctx, v, "default", signal.RoleAudience)
		time.Sleep(100 * time.Millisecond)
	}
	err := first.Wait(ctx, "the final count", func() bool {
		st, ok := first.LastState()
		return ok && *st.Viewers == arrivals+1
	})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	var counts []int
	for _, st := range first.States() {
		counts = append(counts, *st.Viewers)
	}
	// The state after joining, then at most one a second.
	if most := 2 + int(elapsed/time.Second); len(counts) > most {
		t.Errorf("%d state messages in %v (counts %v), want at most %d", len(counts), elapsed.Round(time.Millisecond), counts, most)
	}
}
