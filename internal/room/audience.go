package room

import (
	"sync"
	"time"
)

// audienceEvery is how often at most the members of a room hear that its
// audience alone changed: someone joined or left the audience. A member
// learns nothing from it but the audience's size (and, on the stage, the
// list of who watches), which the clients tell at most once a second
// anyway; waking every member for each arrival makes every join cost the
// server work for each member, and while a large audience comes and goes
// that work queues ahead of the media on the server's core. The first
// change after a quiet interval is told at once, later ones together at
// the interval's end.
const audienceEvery = time.Second

// Members are told of audience changes audienceBatch at a time, with a
// pause between batches. Each member woken is work for the server's core
// (its goroutine builds its lists and encodes a message); woken all at
// once, a large audience is a long queue of such work, and on one core
// the Go scheduler looks for arriving media only once its run queue is
// empty (or every 10 ms): the media would wait behind all of it. In
// batches, it waits behind one at most.
const (
	audienceBatch = 16
	audiencePause = time.Millisecond
)

// pauseBetweenBatches is the pause between two batches (a variable for
// tests).
var pauseBetweenBatches = func() { time.Sleep(audiencePause) }

// audienceNotice spreads out the notifications of changes to the
// audience alone.
type audienceNotice struct {
	// mu protects last, due and stopped.
	mu sync.Mutex
	// last is when the members were last told of such a change.
	last time.Time
	// due tells them of the changes since, nil when none waits.
	due     *time.Timer
	stopped bool
}

// notifyAudience tells every member that the audience alone changed, now
// or, within audienceEvery of the last time, once the interval ends.
func (r *Room) notifyAudience() {
	if r.cluster != nil {
		r.cluster.Changed(r)
	}
	a := &r.audience
	a.mu.Lock()
	if a.due != nil || a.stopped {
		a.mu.Unlock()
		return
	}
	now := time.Now()
	if wait := audienceEvery - now.Sub(a.last); wait > 0 {
		a.due = time.AfterFunc(wait, func() {
			a.mu.Lock()
			a.due, a.last = nil, time.Now()
			stopped := a.stopped
			a.mu.Unlock()
			if !stopped {
				r.notifyPaced()
			}
		})
		a.mu.Unlock()
		return
	}
	a.last = now
	a.mu.Unlock()
	go r.notifyPaced()
}

// notifyPaced tells every member that the room changed, audienceBatch at
// a time.
func (r *Room) notifyPaced() {
	for i, m := range r.memberList() {
		if i > 0 && i%audienceBatch == 0 {
			pauseBetweenBatches()
		}
		m.Notify()
	}
}

// stopAudience drops a notification that waits; for a room closing.
func (r *Room) stopAudience() {
	a := &r.audience
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	if a.due != nil {
		a.due.Stop()
		a.due = nil
	}
}
