package sfu

import (
	"slices"
	"testing"
	"time"
)

// TestPinnedLayerNeededWhileWanted: a down track pinned to a layer (a
// node link's) targets that layer whatever its view, and counts as
// needing it only while wanted: unwanted, the layer is paused like one
// nobody watches; wanted again, it is resumed at the next check.
func TestPinnedLayerNeededWhileWanted(t *testing.T) {
	tr := newSimulcastTrack()
	ls := *tr.layers.Load()
	var active, paused []string
	tr.OnLayers(func(a, p []string) { active, paused = a, p })
	viewer := subscribe(tr, 1, 96, discard{})
	viewer.SetView(View{Width: 320, Height: 180}) // the smallest layer
	link := tr.SubscribeLayer("h")
	if link.target.Load() != ls[1] {
		t.Fatalf("the pinned down track targets %v, want h", link.target.Load())
	}
	w := &layerWatch{idle: map[*layer]time.Time{}}
	now := time.Now()
	tr.checkLayers(now, w)
	tr.checkLayers(now.Add(pauseAfter), w)
	if !slices.Equal(active, []string{"q", "h"}) || !slices.Equal(paused, []string{"f"}) {
		t.Errorf("h wanted by the link: active %v, paused %v; want [q h], [f]", active, paused)
	}

	link.SetWanted(false)
	if link.target.Load() != nil {
		t.Errorf("an unwanted pinned down track targets %q", link.target.Load().rid)
	}
	tr.checkLayers(now.Add(2*pauseAfter), w)
	tr.checkLayers(now.Add(3*pauseAfter), w)
	if !slices.Equal(active, []string{"q"}) || !slices.Equal(paused, []string{"h", "f"}) {
		t.Errorf("h unwanted: active %v, paused %v; want [q], [h f]", active, paused)
	}

	link.SetWanted(true)
	tr.checkLayers(now.Add(3*pauseAfter+pauseCheck), w)
	if !slices.Equal(active, []string{"q", "h"}) || link.target.Load() != ls[1] {
		t.Errorf("h wanted again: active %v, target %v; want [q h], h", active, link.target.Load())
	}
}

// TestLayerReleasedByEdgePausesAtOnce: an edge releases a layer (its
// pinned down track is no longer wanted) only after its own rule found
// it idle for pauseAfter, so the origin pauses it at its next check when
// none of its own viewers needs it, rather than waiting pauseAfter again;
// a viewer of the origin who left it just before still gets pauseAfter.
func TestLayerReleasedByEdgePausesAtOnce(t *testing.T) {
	tr := newSimulcastTrack()
	var active, paused []string
	tr.OnLayers(func(a, p []string) { active, paused = a, p })
	viewer := subscribe(tr, 1, 96, discard{})
	viewer.SetView(View{Width: 320, Height: 180}) // the smallest layer
	link := tr.SubscribeLayer("f")
	w := &layerWatch{idle: map[*layer]time.Time{}}
	now := time.Now()
	tr.checkLayers(now, w)
	tr.checkLayers(now.Add(pauseAfter), w)
	if !slices.Equal(active, []string{"q", "f"}) || !slices.Equal(paused, []string{"h"}) {
		t.Fatalf("f wanted by the link: active %v, paused %v; want [q f], [h]", active, paused)
	}

	link.SetWanted(false)
	tr.checkLayers(now.Add(pauseAfter+pauseCheck), w)
	if !slices.Equal(active, []string{"q"}) || !slices.Equal(paused, []string{"h", "f"}) {
		t.Errorf("f released by the edge: active %v, paused %v at the next check; want [q], [h f]", active, paused)
	}
	link.SetWanted(true)
	tr.checkLayers(now.Add(pauseAfter+2*pauseCheck), w)
	if !slices.Equal(active, []string{"q", "f"}) {
		t.Errorf("f wanted again: active %v at the next check, want [q f]", active)
	}

	// A viewer here takes f, then leaves it just as the edge releases it:
	// the viewer's pauseAfter is waited.
	viewer.SetView(View{Width: 1280, Height: 720})
	start := now.Add(2 * pauseAfter)
	tr.checkLayers(start, w)
	link.SetWanted(false)
	viewer.SetView(View{Width: 320, Height: 180})
	tr.checkLayers(start.Add(pauseCheck), w)
	if slices.Contains(paused, "f") {
		t.Errorf("f paused %v after this node's viewer left it, want it kept for %v", pauseCheck, pauseAfter)
	}
	tr.checkLayers(start.Add(pauseCheck+pauseAfter), w)
	if !slices.Equal(paused, []string{"h", "f"}) {
		t.Errorf("f released everywhere for %v: paused %v, want [h f]", pauseAfter, paused)
	}

	// Only the edge watches, on q; then its viewers leave too and it
	// releases q: nobody watches anywhere, and q is paused at once.
	viewer.SetView(View{})
	q := tr.SubscribeLayer("q")
	later := start.Add(2 * pauseAfter)
	tr.checkLayers(later, w)
	tr.checkLayers(later.Add(pauseAfter), w)
	if !slices.Equal(active, []string{"q"}) {
		t.Fatalf("q wanted by the edge only: active %v, want [q]", active)
	}
	q.SetWanted(false)
	tr.checkLayers(later.Add(pauseAfter+pauseCheck), w)
	if len(active) != 0 || !slices.Equal(paused, []string{"q", "h", "f"}) {
		t.Errorf("q released by the edge, nobody here: active %v, paused %v at the next check; want none, all", active, paused)
	}
}
