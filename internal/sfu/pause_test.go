package sfu

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestSmallestLayerRunsWhileWatched: of a simulcast camera watched on its
// largest layer, the middle layer is paused once idle for pauseAfter,
// the smallest is not, so that a viewer stepping down finds it running;
// once nobody watches, the smallest is paused too.
func TestSmallestLayerRunsWhileWatched(t *testing.T) {
	tr := newSimulcastTrack()
	ls := *tr.layers.Load()
	var mu sync.Mutex
	var active, paused []string
	tr.OnLayers(func(a, p []string) {
		mu.Lock()
		defer mu.Unlock()
		active, paused = a, p
	})
	d := subscribe(tr, 1, 96, discard{})
	if d.target.Load() != ls[2] {
		t.Fatalf("the viewer's target is %q, want f", d.target.Load().rid)
	}
	w := &layerWatch{idle: map[*layer]time.Time{}}
	now := time.Now()
	tr.checkLayers(now, w)
	tr.checkLayers(now.Add(pauseAfter), w)
	mu.Lock()
	if !slices.Equal(active, []string{"q", "f"}) || !slices.Equal(paused, []string{"h"}) {
		t.Errorf("watched on f: active %v, paused %v; want [q f], [h]", active, paused)
	}
	mu.Unlock()
	if ls[0].paused.Load() {
		t.Error("the smallest layer is paused while a viewer watches")
	}

	d.SetView(View{}) // the tile is hidden: nobody watches
	tr.checkLayers(now.Add(2*pauseAfter), w)
	tr.checkLayers(now.Add(3*pauseAfter), w)
	mu.Lock()
	defer mu.Unlock()
	if len(active) != 0 || !slices.Equal(paused, []string{"q", "h", "f"}) {
		t.Errorf("nobody watching: active %v, paused %v; want none, all", active, paused)
	}
}
