package sfu

import (
	"slices"
	"testing"
	"time"
)

// TestPinnedLayerNeededWhileWanted: a down track pinned to a layer (a
// node link's) targets that layer whatever its view, and counts as
// needing it only while wanted: unwanted, the layer is paused after
// pauseAfter like one nobody watches; wanted again, it is resumed at the
// next check.
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
