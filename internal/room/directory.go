package room

import (
	"log/slog"
	"sort"
	"sync"
)

// Directory holds the rooms of a server, creating a room on its first join
// and dropping it when its last member leaves. Broadcasts and meetings have
// names of their own: a broadcast and a meeting may share a name.
type Directory struct {
	log    *slog.Logger
	limits Limits
	chat   *chatBudget

	// opener, when set, is asked before a member opens a room.
	opener Opener
	// cluster, when set, shares the rooms with other nodes (cluster.go).
	cluster Cluster

	// mu protects rooms and opened. It is taken before a room's own lock,
	// never after.
	mu    sync.Mutex
	rooms map[key]*Room
	// opened holds, for each room an opener let open, what to call once
	// the room has closed.
	opened map[*Room]func()
}

// Opener decides whether member m may open a new room (per-client limits
// live there). When it may, closed is called once the room has closed. It
// runs under the directory's lock, so it must be quick and must not call
// the directory.
type Opener func(m Member) (closed func(), err error)

type key struct {
	kind Kind
	name string
}

// Limits bound what a server holds; zero means no bound.
type Limits struct {
	// MaxRooms is how many rooms may exist at once.
	MaxRooms int
	// MaxParticipants is how many members one room may have, unless the
	// room has a limit of its own.
	MaxParticipants int
	// ChatBytes bounds the chat history one room keeps, ChatTotal that of
	// all rooms together, in bytes of text (and a little per message).
	// The newest message of a room is always kept, so it reaches everyone.
	ChatBytes, ChatTotal int
}

// NewDirectory makes an empty directory.
func NewDirectory(log *slog.Logger, limits Limits) *Directory {
	return &Directory{log: log, limits: limits, rooms: map[key]*Room{}, opened: map[*Room]func(){},
		chat: &chatBudget{perRoom: int64(limits.ChatBytes), total: int64(limits.ChatTotal)}}
}

// SetOpener installs o; call it before the first Join.
func (d *Directory) SetOpener(o Opener) { d.opener = o }

// Join adds m to the room of that kind and name, creating the room if
// needed. maxParticipants is the room's own limit, 0 for the default.
func (d *Directory) Join(kind Kind, name string, m Member, role Role, displayName string, maxParticipants int) (*Room, error) {
	d.mu.Lock()
	k := key{kind, name}
	r, ok := d.rooms[k]
	if !ok {
		if d.limits.MaxRooms > 0 && len(d.rooms) >= d.limits.MaxRooms {
			d.mu.Unlock()
			d.log.Warn("room refused: server full", "room", name, "rooms", len(d.rooms))
			return nil, ErrServerFull
		}
		var closed func()
		if d.opener != nil {
			var err error
			if closed, err = d.opener(m); err != nil {
				d.mu.Unlock()
				return nil, err
			}
		}
		r = newRoom(name, kind, d.log)
		r.budget = d.chat
		r.cluster = d.cluster
		d.rooms[k] = r
		if closed != nil {
			d.opened[r] = closed
		}
		d.log.Info("room created", "room", name, "kind", kind.String())
		if d.cluster != nil {
			d.cluster.Opened(r)
		}
	}
	if maxParticipants == 0 {
		maxParticipants = d.limits.MaxParticipants
	}
	err := r.join(m, role, displayName, maxParticipants)
	if err != nil && !ok {
		delete(d.rooms, k)
		d.closed(r)
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
	k := key{r.kind, r.name}
	if r.leave(m) && d.rooms[k] == r {
		delete(d.rooms, k)
		d.closed(r)
		d.log.Info("room closed", "room", r.name, "kind", r.kind.String())
	}
}

// Get returns the room of that kind and name, or nil.
func (d *Directory) Get(kind Kind, name string) *Room {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rooms[key{kind, name}]
}

// Rooms lists every room, in no order.
func (d *Directory) Rooms() []*Room {
	d.mu.Lock()
	defer d.mu.Unlock()
	rooms := make([]*Room, 0, len(d.rooms))
	for _, r := range d.rooms {
		rooms = append(rooms, r)
	}
	return rooms
}

// Names lists the rooms of a kind, sorted.
func (d *Directory) Names(kind Kind) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var names []string
	for k := range d.rooms {
		if k.kind == kind {
			names = append(names, k.name)
		}
	}
	sort.Strings(names)
	return names
}

// Close stops every room's background work; for a server shutting down.
func (d *Directory) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, r := range d.rooms {
		delete(d.rooms, k)
		d.closed(r)
	}
}

// closed closes r, taken out of the directory, and tells its opener; d.mu
// is held.
func (d *Directory) closed(r *Room) {
	if d.cluster != nil {
		d.cluster.Closed(r)
	}
	r.close()
	if f := d.opened[r]; f != nil {
		delete(d.opened, r)
		f()
	}
}
