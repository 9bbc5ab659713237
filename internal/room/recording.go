package room

import (
	"slices"
	"time"
)

// Recording is a recording of the room in progress, as its members are
// told of it.
type Recording struct {
	ID    string
	Since time.Time
	// By is the name of who started it, empty for a room recorded by the
	// rooms file.
	By string
}

// RecordingEnd says why the room's last recording stopped.
type RecordingEnd struct {
	ID string
	// Reason is stopped, disk_full, ended or error (see docs/protocol.md).
	Reason, Message string
}

// Watcher is told of every change of the room, as members are, without
// being one: a recording follows the stage's tracks and the chat this way.
// Notify must not block.
type Watcher interface {
	Notify()
}

// Watch starts telling w of the room's changes.
func (r *Room) Watch(w Watcher) {
	r.mu.Lock()
	r.watchers = append(r.watchers, w)
	r.mu.Unlock()
	w.Notify()
}

// Unwatch stops telling w.
func (r *Room) Unwatch(w Watcher) {
	r.mu.Lock()
	r.watchers = slices.DeleteFunc(slices.Clone(r.watchers), func(x Watcher) bool { return x == w })
	r.mu.Unlock()
}

// Done is closed when the room closes: its last member left, or the server
// stops.
func (r *Room) Done() <-chan struct{} { return r.stop }

// Host is the id of the room's host, empty while it has none.
func (r *Room) Host() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.host
}

// NameOf is the display name of the member id, empty for none.
func (r *Room) NameOf(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.members[id]; ok {
		return e.name
	}
	return ""
}

// SetRecording tells the members that rec is recording the room.
func (r *Room) SetRecording(rec Recording) {
	r.mu.Lock()
	r.changedLocked()
	r.recording = &rec
	r.mu.Unlock()
	r.notify()
}

// EndRecording tells the members that the recording end.ID stopped, and
// why; it does nothing if that recording is not the room's.
func (r *Room) EndRecording(end RecordingEnd) {
	r.mu.Lock()
	if r.recording == nil || r.recording.ID != end.ID {
		r.mu.Unlock()
		return
	}
	r.changedLocked()
	r.recording, r.recordingEnd = nil, &end
	r.mu.Unlock()
	r.notify()
}

// notifyWatchers tells the watchers that the room changed.
func (r *Room) notifyWatchers() {
	r.mu.Lock()
	ws := r.watchers
	r.mu.Unlock()
	for _, w := range ws {
		w.Notify()
	}
}
