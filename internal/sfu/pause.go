package sfu

import "time"

// A simulcast layer that no down track forwards or waits for during
// pauseAfter is paused: the publisher is told to stop sending it, which
// saves its uplink. It resumes as soon as a down track needs it again,
// within pauseCheck.
const (
	pauseAfter = 3 * time.Second
	pauseCheck = 250 * time.Millisecond
)

// OnLayers sets f to be called with the RIDs of the layers the publisher
// should send, smallest first, whenever that changes. Without it every
// layer keeps coming. Call it before Run; f must not block.
func (t *Track) OnLayers(f func(active []string)) { t.onLayers = f }

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
	idle := map[*layer]time.Time{} // since when a layer is not needed
	for {
		var now time.Time
		select {
		case <-t.done:
			return
		case now = <-tick.C:
		}
		t.checkLayers(now, idle)
	}
}

// checkLayers pauses the layers not needed since pauseAfter and resumes
// the needed ones that are paused, telling the publisher of a change.
func (t *Track) checkLayers(now time.Time, idle map[*layer]time.Time) {
	needed := map[*layer]bool{}
	for _, d := range *t.downs.Load() {
		needed[d.target.Load()] = true
		needed[d.current.Load()] = true
	}
	var resumed []*layer
	changed := false
	ls := *t.layers.Load()
	if len(ls) > 0 && len(t.sinkList()) > 0 {
		needed[ls[len(ls)-1]] = true // a recording takes the largest
	}
	for _, l := range ls {
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
			idle[l] = now
			continue
		}
		if now.Sub(since) >= pauseAfter && !l.paused.Swap(true) {
			changed = true
		}
	}
	if !changed {
		return
	}
	active := []string{}
	var paused []string
	for _, l := range ls {
		if l.paused.Load() {
			paused = append(paused, l.rid)
		} else {
			active = append(active, l.rid)
		}
	}
	t.log.Info("simulcast layers", "active", active, "paused", paused)
	t.onLayers(active)
	for _, l := range resumed {
		// Publishers start a resumed layer with a keyframe; ask in case.
		t.requestKeyframe(l)
	}
}
