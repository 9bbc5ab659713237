package sfu

import (
	"slices"
	"time"
)

// A simulcast layer that no down track forwards or waits for during
// pauseAfter is paused (but the smallest, while anyone watches): the publisher is told to stop sending it, which
// saves its uplink. It resumes as soon as a down track needs it again,
// within pauseCheck. A layer a node link's edge released (linklayer.go)
// has already been idle there for pauseAfter, by the edge's own rule: it
// is paused as soon as this node's own viewers have left it for
// pauseAfter, not pauseAfter after the edge's word.
const (
	pauseAfter = 3 * time.Second
	pauseCheck = 250 * time.Millisecond
)

// OnLayers sets f to be called with the RIDs of the layers the publisher
// should send and of those it should pause, each smallest first, whenever
// that changes. Without it every layer keeps coming. Call it before Run;
// f must not block.
//
// A layer negotiated in the offer but not received yet is never paused:
// meetd cannot know it is unneeded before it arrives (a browser may start
// it seconds late), and a publisher that paused it would never send it.
// While one is missing and someone watches the camera, f is called again
// every pauseAfter, so that a publisher that holds it back is asked anew.
func (t *Track) OnLayers(f func(active, paused []string)) { t.onLayers = f }

// LayerPackets is how many packets each layer has received, by RID.
func (t *Track) LayerPackets() map[string]uint64 {
	n := map[string]uint64{}
	for _, l := range *t.layers.Load() {
		n[l.rid] = l.packets.Load()
	}
	return n
}

// watchLayers pauses and resumes the track's layers until it ends.
func (t *Track) watchLayers() {
	tick := time.NewTicker(pauseCheck)
	defer tick.Stop()
	w := &layerWatch{idle: map[*layer]time.Time{}}
	for {
		var now time.Time
		select {
		case <-t.done:
			return
		case now = <-tick.C:
		}
		t.checkLayers(now, w)
	}
}

// layerWatch is what watchLayers remembers between checks.
type layerWatch struct {
	idle map[*layer]time.Time // since when a layer is not needed
	// quiet is since when a layer is needed by nothing but node links
	// (pinned down tracks): since this node's own viewers left it.
	quiet map[*layer]time.Time
	told  time.Time // when the publisher was last told
}

// checkLayers pauses the layers not needed since pauseAfter and resumes
// the needed ones that are paused, telling the publisher of a change.
func (t *Track) checkLayers(now time.Time, w *layerWatch) {
	idle := w.idle
	if w.quiet == nil {
		w.quiet = map[*layer]time.Time{}
	}
	ls := *t.layers.Load()
	// needed: by any down track; local: by this node's own viewers and
	// rules, not node links; released: by a node link whose edge no
	// longer wants it.
	needed, local, released := map[*layer]bool{}, map[*layer]bool{}, map[*layer]bool{}
	for _, d := range *t.downs.Load() {
		if d.pin != nil && !d.pin.wanted.Load() {
			if i := slices.IndexFunc(ls, func(l *layer) bool { return l.rid == d.pin.rid }); i >= 0 {
				released[ls[i]] = true
			}
		}
		for _, l := range []*layer{d.target.Load(), d.current.Load()} {
			needed[l] = true
			if d.pin == nil {
				local[l] = true
			}
		}
	}
	delete(needed, nil)
	delete(local, nil)
	var resumed []*layer
	changed := false
	// The smallest layer is this node's need only while its own viewers
	// watch: edges keep theirs by the same rule.
	watchedHere := len(local) > 0
	if len(ls) > 0 && len(needed) > 0 {
		// While anyone watches, the smallest layer keeps coming: a viewer
		// whose estimate falls switches to it at its next keyframe, which
		// a running layer sends within a keyframe request's round trip; a
		// paused one would first have to be resumed by the publisher.
		// It costs the publisher little uplink.
		needed[ls[0]] = true
		local[ls[0]] = watchedHere
	}
	if len(ls) > 0 && len(t.sinkList()) > 0 {
		needed[ls[len(ls)-1]] = true // a recording takes the largest
		local[ls[len(ls)-1]] = true
	}
	for _, l := range ls {
		if local[l] {
			delete(w.quiet, l)
		} else if _, ok := w.quiet[l]; !ok {
			w.quiet[l] = now
		}
		if needed[l] {
			delete(idle, l)
			if l.paused.Swap(false) {
				resumed = append(resumed, l)
				changed = true
			}
			continue
		}
		since, ok := idle[l]
		if !ok {
			idle[l], since = now, now
		}
		// An edge's release comes after its own pauseAfter: waiting as
		// long again here would double the wait (docs/cluster.md).
		edgeWaited := released[l] && now.Sub(w.quiet[l]) >= pauseAfter
		if (now.Sub(since) >= pauseAfter || edgeWaited) && !l.paused.Swap(true) {
			changed = true
		}
	}
	missing := t.missingLayers(ls)
	if !changed && (len(missing) == 0 || len(needed) == 0 || now.Sub(w.told) < pauseAfter) {
		return
	}
	w.told = now
	active, paused := []string{}, []string{}
	for _, l := range ls {
		if l.paused.Load() {
			paused = append(paused, l.rid)
		} else {
			active = append(active, l.rid)
		}
	}
	active = append(active, missing...)
	slices.SortStableFunc(active, func(a, b string) int { return ridRank(a) - ridRank(b) })
	log := t.log.Info
	if !changed {
		log = t.log.Debug // a repeat for a missing layer, every pauseAfter
	}
	log("simulcast layers", "active", active, "paused", paused, "missing", missing)
	t.onLayers(active, paused)
	for _, l := range resumed {
		// Publishers start a resumed layer with a keyframe; ask in case.
		t.requestKeyframe(l)
	}
}

// missingLayers are the RIDs negotiated for the track that have no layer
// in ls yet.
func (t *Track) missingLayers(ls []*layer) []string {
	var missing []string
	for _, rid := range t.rids {
		if !slices.ContainsFunc(ls, func(l *layer) bool { return l.rid == rid }) {
			missing = append(missing, rid)
		}
	}
	return missing
}
