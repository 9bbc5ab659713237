// Package room holds meetd's room model: which participants are in a room,
// who is on its stage (publishing) and who is in its audience (watching),
// and which tracks the stage publishes.
package room

import (
	"errors"
	"log/slog"
	"slices"
	"sync"

	"github.com/meetd/meetd/internal/sfu"
)

// Role is a participant's place in a room.
type Role int

const (
	// Audience members watch.
	Audience Role = iota
	// Stage members publish.
	Stage
)

func (r Role) String() string {
	if r == Stage {
		return "stage"
	}
	return "audience"
}

// Errors of room operations.
var (
	ErrAlreadyLive = errors.New("this broadcast is already live from another streamer")
	ErrNotMember   = errors.New("not a member of this room")
)

// Member is a participant as a room sees it.
type Member interface {
	// ID is unique among all participants.
	ID() string
	// Notify tells the member that the room changed; the member reads the
	// new Snapshot in its own time. It is called without the room's lock
	// held and must not block.
	Notify()
}

// Published is one track on the room's stage.
type Published struct {
	Publisher string
	Track     *sfu.Track
}

// Snapshot is the state of a room at one moment.
type Snapshot struct {
	Name   string
	Tracks []Published
	// Live is true while the stage publishes at least one track.
	Live bool
	// Viewers counts the audience.
	Viewers int
}

type entry struct {
	member Member
	role   Role
	name   string
	tracks []*sfu.Track
}

// Room is one broadcast. A broadcast has at most one member on its stage.
type Room struct {
	name string
	log  *slog.Logger

	// mu protects members and order.
	mu      sync.Mutex
	members map[string]*entry
	order   []string // join order, so snapshots list tracks stably
}

// Name is the room's name.
func (r *Room) Name() string { return r.name }

// join adds m; the directory's lock is held.
func (r *Room) join(m Member, role Role, name string) error {
	r.mu.Lock()
	if _, ok := r.members[m.ID()]; ok {
		r.mu.Unlock()
		return errors.New("already a member of this room")
	}
	if role == Stage && r.stageHolderLocked() != "" {
		r.mu.Unlock()
		return ErrAlreadyLive
	}
	r.members[m.ID()] = &entry{member: m, role: role, name: name}
	r.order = append(r.order, m.ID())
	r.mu.Unlock()
	r.log.Info("joined", "participant", m.ID(), "role", role, "name", name)
	r.notify()
	return nil
}

func (r *Room) stageHolderLocked() string {
	for id, e := range r.members {
		if e.role == Stage {
			return id
		}
	}
	return ""
}

// SetRole moves m between audience and stage.
func (r *Room) SetRole(m Member, role Role) error {
	r.mu.Lock()
	e, ok := r.members[m.ID()]
	if !ok {
		r.mu.Unlock()
		return ErrNotMember
	}
	if e.role == role {
		r.mu.Unlock()
		return nil
	}
	if role == Stage {
		if holder := r.stageHolderLocked(); holder != "" {
			r.mu.Unlock()
			return ErrAlreadyLive
		}
	} else {
		e.tracks = nil
	}
	e.role = role
	r.mu.Unlock()
	r.log.Info("role changed", "participant", m.ID(), "role", role)
	r.notify()
	return nil
}

// Publish sets the tracks m publishes; nil stops publishing.
func (r *Room) Publish(m Member, tracks []*sfu.Track) error {
	r.mu.Lock()
	e, ok := r.members[m.ID()]
	if !ok {
		r.mu.Unlock()
		return ErrNotMember
	}
	if e.role != Stage && len(tracks) > 0 {
		r.mu.Unlock()
		return errors.New("only the stage can publish")
	}
	e.tracks = slices.Clone(tracks)
	r.mu.Unlock()
	r.log.Info("publishing", "participant", m.ID(), "tracks", len(tracks))
	r.notify()
	return nil
}

// leave removes m and reports whether the room is now empty.
func (r *Room) leave(m Member) (empty bool) {
	r.mu.Lock()
	_, ok := r.members[m.ID()]
	if ok {
		delete(r.members, m.ID())
		r.order = slices.DeleteFunc(r.order, func(id string) bool { return id == m.ID() })
	}
	empty = len(r.members) == 0
	r.mu.Unlock()
	if ok {
		r.log.Info("left", "participant", m.ID())
		r.notify()
	}
	return empty
}

// Snapshot returns the room's state now.
func (r *Room) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Name: r.name}
	for _, id := range r.order {
		e := r.members[id]
		if e.role == Audience {
			s.Viewers++
		}
		for _, t := range e.tracks {
			s.Tracks = append(s.Tracks, Published{Publisher: id, Track: t})
		}
	}
	s.Live = len(s.Tracks) > 0
	return s
}

// Size is how many members the room has.
func (r *Room) Size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// notify tells every member that the room changed. The list is copied
// under the lock and the members are called without it.
func (r *Room) notify() {
	r.mu.Lock()
	members := make([]Member, 0, len(r.members))
	for _, e := range r.members {
		members = append(members, e.member)
	}
	r.mu.Unlock()
	for _, m := range members {
		m.Notify()
	}
}
