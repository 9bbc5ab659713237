package main

import (
	"context"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// A viewer can tell a broadcast nobody has started (a wrong link) from one
// that was live and stopped: state carries wasLive once the stage published.
// Viewers who give no name are numbered, so the streamer can tell them apart.
func TestViewersSeeWhetherTheBroadcastWasLive(t *testing.T) {
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	early := dial(t, ctx, url, testclient.Options{})
	defer early.Close()
	join(t, ctx, early, "never", signal.RoleAudience)
	if err := early.Wait(ctx, "a state", func() bool { _, ok := early.LastState(); return ok }); err != nil {
		t.Fatal(err)
	}
	if st, _ := early.LastState(); *st.Live || st.WasLive {
		t.Fatalf("a broadcast nobody started: state %+v", st)
	}

	pub := goLive(t, ctx, url, "never", testclient.Options{Name: "Sam"})
	if err := early.Wait(ctx, "live", func() bool { st, ok := early.LastState(); return ok && *st.Live && st.WasLive }); err != nil {
		st, _ := early.LastState()
		t.Fatalf("%v: state %+v", err, st)
	}
	pub.Close()
	if err := early.Wait(ctx, "ended", func() bool { st, ok := early.LastState(); return ok && !*st.Live && st.WasLive }); err != nil {
		st, _ := early.LastState()
		t.Fatalf("%v: state %+v", err, st)
	}

	// One who comes after the end hears that it was live, too.
	late := dial(t, ctx, url, testclient.Options{})
	defer late.Close()
	join(t, ctx, late, "never", signal.RoleAudience)
	if err := late.Wait(ctx, "a state", func() bool { st, ok := late.LastState(); return ok && st.WasLive && !*st.Live }); err != nil {
		st, _ := late.LastState()
		t.Fatalf("%v: state %+v", err, st)
	}

	// The streamer, back, sees its two unnamed viewers numbered.
	again := goLive(t, ctx, url, "never", testclient.Options{Name: "Sam"})
	defer again.Close()
	names := func() map[string]string {
		out := map[string]string{}
		for _, p := range again.Participants() {
			out[p.ID] = p.Name
		}
		return out
	}
	if err := again.Wait(ctx, "the viewers listed", func() bool { return len(names()) == 3 }); err != nil {
		t.Fatalf("%v: %v", err, names())
	}
	got := names()
	if got[early.ID()] != "Viewer 1" || got[late.ID()] != "Viewer 2" {
		t.Fatalf("viewers' names: %v (early %s, late %s)", got, early.ID(), late.ID())
	}
}
