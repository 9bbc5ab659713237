// Package room holds meetd's room model: which participants are in a room,
// who is on its stage (publishing) and who is in its audience (watching),
// which tracks the stage publishes, the host, the chat, and who speaks.
package room

import (
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

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

// Kind is what a room is for.
type Kind int

const (
	// Broadcast rooms have one streamer who joined the stage by themselves,
	// and guests they invite.
	Broadcast Kind = iota
	// Meeting rooms put everyone on stage.
	Meeting
)

func (k Kind) String() string {
	if k == Meeting {
		return "meeting"
	}
	return "broadcast"
}

// MaxStage is how many participants a meeting's stage holds.
const MaxStage = 16

// ChatHistory is how many chat messages a room keeps for late joiners.
const ChatHistory = 100

// Errors of room operations.
var (
	ErrAlreadyLive = errors.New("this broadcast is already live from another streamer")
	ErrRoomFull    = errors.New("the stage is full")
	ErrNotMember   = errors.New("not a member of this room")
	ErrNotHost     = errors.New("only the host may do this")
	ErrServerFull  = errors.New("the server has as many rooms as it may")
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

// Participant describes one member.
type Participant struct {
	ID, Name     string
	Role         Role
	Host         bool
	Audio, Video bool
	// Screen is the id of the stream carrying the member's screen share.
	Screen string
}

// ChatMessage is one message of the room's chat.
type ChatMessage struct {
	Seq  uint64
	From string
	Name string
	Text string
	Time time.Time
}

// Snapshot is the state of a room at one moment.
type Snapshot struct {
	Name   string
	Kind   Kind
	Tracks []Published
	// Live is true while the stage publishes at least one track.
	Live bool
	// Viewers counts the audience.
	Viewers int
	// Participants lists every member in join order.
	Participants []Participant
	// Speaker is the participant speaking now, or empty.
	Speaker string
	// ChatSeq is the sequence number of the last chat message.
	ChatSeq uint64
}

type entry struct {
	member       Member
	role         Role
	name         string
	tracks       []*sfu.Track
	audio, video bool
	screen       string
}

// Room is one broadcast or meeting.
type Room struct {
	name string
	kind Kind
	log  *slog.Logger
	stop chan struct{}

	// mu protects everything below.
	mu      sync.Mutex
	members map[string]*entry
	order   []string // join order
	host    string
	chat    []ChatMessage // the last ChatHistory messages
	chatSeq uint64
	speaker string
	// snap is the room as Snapshot last made it, nil once it changed
	// (changedLocked): every change notifies every member, and each takes
	// a snapshot, so one made per change serves them all.
	snap *Snapshot
}

// changedLocked drops the snapshot of the room before a change. r.mu
// must be held.
func (r *Room) changedLocked() { r.snap = nil }

func newRoom(name string, kind Kind, log *slog.Logger) *Room {
	r := &Room{
		name: name, kind: kind, log: log.With("room", name, "kind", kind.String()),
		stop: make(chan struct{}), members: map[string]*entry{},
	}
	go r.detectSpeakers()
	return r
}

// Name is the room's name.
func (r *Room) Name() string { return r.name }

// Kind is the room's kind.
func (r *Room) Kind() Kind { return r.kind }

// mayJoinStageLocked checks whether a member may take the stage by itself.
func (r *Room) mayJoinStageLocked() error {
	stage := 0
	for _, e := range r.members {
		if e.role == Stage {
			stage++
		}
	}
	if r.kind == Broadcast && stage > 0 {
		return ErrAlreadyLive
	}
	if stage >= MaxStage {
		return ErrRoomFull
	}
	return nil
}

// join adds m; the directory's lock is held.
func (r *Room) join(m Member, role Role, name string, maxParticipants int) error {
	r.mu.Lock()
	if _, ok := r.members[m.ID()]; ok {
		r.mu.Unlock()
		return errors.New("already a member of this room")
	}
	if maxParticipants > 0 && len(r.members) >= maxParticipants {
		r.mu.Unlock()
		return ErrRoomFull
	}
	if role == Stage {
		if err := r.mayJoinStageLocked(); err != nil {
			r.mu.Unlock()
			return err
		}
	}
	r.changedLocked()
	r.members[m.ID()] = &entry{member: m, role: role, name: name}
	r.order = append(r.order, m.ID())
	if r.host == "" && (r.kind == Meeting || role == Stage) {
		r.host = m.ID()
	}
	r.mu.Unlock()
	r.log.Info("joined", "participant", m.ID(), "role", role, "name", name)
	r.notify()
	return nil
}

// SetRole moves m itself between audience and stage.
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
		if err := r.mayJoinStageLocked(); err != nil {
			r.mu.Unlock()
			return err
		}
		if r.host == "" {
			r.host = m.ID()
		}
	}
	r.setRoleLocked(e, role)
	r.mu.Unlock()
	r.log.Info("role changed", "participant", m.ID(), "role", role)
	r.notify()
	return nil
}

// Move is the host moving the member called target between audience and
// stage. An invitation to the stage passes a broadcast's one-streamer rule.
// Anyone may move themselves to the audience (declining an invitation,
// leaving the stage).
func (r *Room) Move(host Member, target string, role Role) error {
	r.mu.Lock()
	if r.host != host.ID() && (target != host.ID() || role != Audience) {
		r.mu.Unlock()
		return ErrNotHost
	}
	e, ok := r.members[target]
	if !ok {
		r.mu.Unlock()
		return ErrNotMember
	}
	if e.role != role && role == Stage {
		stage := 0
		for _, x := range r.members {
			if x.role == Stage {
				stage++
			}
		}
		if stage >= MaxStage {
			r.mu.Unlock()
			return ErrRoomFull
		}
	}
	r.setRoleLocked(e, role)
	r.mu.Unlock()
	r.log.Info("moved by host", "participant", target, "role", role, "host", host.ID())
	r.notify()
	return nil
}

func (r *Room) setRoleLocked(e *entry, role Role) {
	r.changedLocked()
	e.role = role
	if role == Audience {
		e.tracks, e.audio, e.video, e.screen = nil, false, false, ""
	}
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
	r.changedLocked()
	e.tracks = slices.Clone(tracks)
	r.mu.Unlock()
	r.log.Info("publishing", "participant", m.ID(), "tracks", len(tracks))
	r.notify()
	return nil
}

// SetMedia records whether m's microphone and camera are on and which of
// its streams is a screen share.
func (r *Room) SetMedia(m Member, audio, video bool, screen string) error {
	r.mu.Lock()
	e, ok := r.members[m.ID()]
	if !ok {
		r.mu.Unlock()
		return ErrNotMember
	}
	if e.audio == audio && e.video == video && e.screen == screen {
		r.mu.Unlock()
		return nil
	}
	r.changedLocked()
	e.audio, e.video, e.screen = audio, video, screen
	r.mu.Unlock()
	r.notify()
	return nil
}

// Chat adds a message from m to the room's chat.
func (r *Room) Chat(m Member, text string) error {
	r.mu.Lock()
	e, ok := r.members[m.ID()]
	if !ok {
		r.mu.Unlock()
		return ErrNotMember
	}
	r.changedLocked()
	r.chatSeq++
	r.chat = append(r.chat, ChatMessage{Seq: r.chatSeq, From: m.ID(), Name: e.name, Text: text, Time: time.Now().UTC()})
	if len(r.chat) > ChatHistory {
		r.chat = slices.Delete(r.chat, 0, len(r.chat)-ChatHistory)
	}
	r.mu.Unlock()
	r.notify()
	return nil
}

// ChatSince returns the kept messages after seq.
func (r *Room) ChatSince(seq uint64) []ChatMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, _ := slices.BinarySearchFunc(r.chat, seq+1, func(c ChatMessage, s uint64) int {
		switch {
		case c.Seq < s:
			return -1
		case c.Seq > s:
			return 1
		}
		return 0
	})
	return slices.Clone(r.chat[i:])
}

// leave removes m and reports whether the room is now empty.
func (r *Room) leave(m Member) (empty bool) {
	r.mu.Lock()
	_, ok := r.members[m.ID()]
	if ok {
		r.changedLocked()
		delete(r.members, m.ID())
		r.order = slices.DeleteFunc(r.order, func(id string) bool { return id == m.ID() })
		if r.host == m.ID() {
			r.host = r.nextHostLocked()
		}
		if r.speaker == m.ID() {
			r.speaker = ""
		}
	}
	empty = len(r.members) == 0
	r.mu.Unlock()
	if ok {
		r.log.Info("left", "participant", m.ID())
		r.notify()
	}
	return empty
}

// nextHostLocked picks who hosts after the host left: the earliest member
// on stage, or in a meeting the earliest member of all.
func (r *Room) nextHostLocked() string {
	for _, id := range r.order {
		if r.members[id].role == Stage {
			return id
		}
	}
	if r.kind == Meeting && len(r.order) > 0 {
		return r.order[0]
	}
	return ""
}

// close stops the room's speaker detection; the directory's lock is held.
func (r *Room) close() { close(r.stop) }

// Snapshot returns the room's state now.
//
// Its slices are shared by every caller until the room changes: read
// them, never write to them.
func (r *Room) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snap == nil {
		s := r.snapshotLocked()
		r.snap = &s
	}
	return *r.snap
}

// snapshotLocked makes a snapshot of the room. r.mu must be held.
func (r *Room) snapshotLocked() Snapshot {
	s := Snapshot{Name: r.name, Kind: r.kind, Speaker: r.speaker, ChatSeq: r.chatSeq}
	s.Participants = make([]Participant, 0, len(r.order))
	for _, id := range r.order {
		e := r.members[id]
		if e.role == Audience {
			s.Viewers++
		}
		for _, t := range e.tracks {
			s.Tracks = append(s.Tracks, Published{Publisher: id, Track: t})
		}
		s.Participants = append(s.Participants, Participant{
			ID: id, Name: e.name, Role: e.role, Host: id == r.host, Audio: e.audio, Video: e.video, Screen: e.screen,
		})
	}
	s.Live = len(s.Tracks) > 0
	return s
}

// Members lists the members in join order.
func (r *Room) Members() []Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	members := make([]Member, 0, len(r.order))
	for _, id := range r.order {
		members = append(members, r.members[id].member)
	}
	return members
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
