package room

import (
	"log/slog"
	"sort"
	"sync"
)

// Directory holds the rooms of a server, creating a room on its first join
// and dropping it when its last member leaves.
type Directory struct {
	log *slog.Logger

	// mu protects rooms. It is taken before a room's own lock, never after.
	mu    sync.Mutex
	rooms map[string]*Room
}

// NewDirectory makes an empty directory.
func NewDirectory(log *slog.Logger) *Directory {
	return &Directory{log: log, rooms: map[string]*Room{}}
}

// Join adds m to the room called name, creating the room if needed.
func (d *Directory) Join(name string, m Member, role Role, displayName string) (*Room, error) {
	d.mu.Lock()
	r, ok := d.rooms[name]
	if !ok {
		r = &Room{name: name, log: d.log.With("room", name), members: map[string]*entry{}}
		d.rooms[name] = r
		d.log.Info("room created", "room", name)
	}
	err := r.join(m, role, displayName)
	if err != nil && !ok {
		delete(d.rooms, name)
	}
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Leave removes m from r, and r from the directory once it is empty.
func (d *Directory) Leave(r *Room, m Member) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.leave(m) && d.rooms[r.name] == r {
		delete(d.rooms, r.name)
		d.log.Info("room closed", "room", r.name)
	}
}

// Get returns the room called name, or nil.
func (d *Directory) Get(name string) *Room {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rooms[name]
}

// Names lists the rooms, sorted.
func (d *Directory) Names() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, 0, len(d.rooms))
	for n := range d.rooms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
