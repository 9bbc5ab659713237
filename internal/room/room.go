// Package room holds meetd's room model: which participants are in a room,
// who is on its stage (publishing) and who is in its audience (watching),
// which tracks the stage publishes, the host, the chat, and who speaks.
package room

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
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

// UnnamedViewer, and a number, names an audience member who gave no name:
// "Viewer 3". The web app shows it in the user's language.
const UnnamedViewer = "Viewer"

// ChatHistory is how many chat messages a room keeps for late joiners.
const ChatHistory = 100

// Errors of room operations.
var (
	ErrAlreadyLive = errors.New("this broadcast is already live from another streamer")
	ErrRoomFull    = errors.New("the stage is full")
	ErrNotMember   = errors.New("not a member of this room")
	ErrNotHost     = errors.New("only the host may do this")
	ErrServerFull  = errors.New("the server has as many rooms as it may")
	// ErrNotInvited refuses an audience member who takes the stage without
	// an invitation from the host or the stage's credentials.
	ErrNotInvited = errors.New("only the host can invite you to the stage")
)

// FullError refuses a join to a room that has as many participants as it
// may have (maxParticipants); it is an ErrRoomFull.
type FullError struct{ Max int }

func (e *FullError) Error() string        { return fmt.Sprintf("the room has its %d participants", e.Max) }
func (e *FullError) Is(target error) bool { return target == ErrRoomFull }

// Member is a participant as a room sees it.
type Member interface {
	// ID is unique among all participants.
	ID() string
	// Notify tells the member that the room changed; the member reads the
	// new Snapshot in its own time. It is called without the room's lock
	// held and must not block.
	Notify()
}

// Track is a published track as a room sees it: the room holds its
// stage's tracks for those who forward them (internal/client, with
// internal/sfu's tracks), and reads their audio level to tell who speaks.
type Track interface {
	// Kind is audio or video.
	Kind() webrtc.RTPCodecType
	// TakeAudioLevel returns the loudest audio level (RFC 6464: 0 is the
	// loudest, 127 silence) since the last call.
	TakeAudioLevel() uint8
}

// Published is one track on the room's stage.
type Published struct {
	Publisher string
	Track     Track
	// Node is the node of the cluster the publisher is on, empty for this
	// one: the track came over a node link.
	Node string
}

// Participant describes one member.
type Participant struct {
	ID, Name     string
	Role         Role
	Host         bool
	Audio, Video bool
	// Screen is the id of the stream carrying the member's screen share.
	Screen string
	// Invited is set while an audience member has an invitation to the
	// stage that they have not yet accepted or declined; Invitation
	// numbers it, to tell a new invitation from the one before.
	Invited    bool
	Invitation uint64
	// Node is the node of the cluster the member is on, empty for this one.
	Node string
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
	// WasLive is true once the stage has published since the room opened.
	WasLive bool
	// Viewers counts the audience.
	Viewers int
	// Participants lists every member in join order.
	Participants []Participant
	// Speaker is the participant speaking now, or empty.
	Speaker string
	// ChatSeq is the sequence number of the last chat message.
	ChatSeq uint64
	// Recording is the recording in progress, nil for none; RecordingEnd
	// says why the last one stopped, nil before any did.
	Recording    *Recording
	RecordingEnd *RecordingEnd
}

type entry struct {
	member       Member
	role         Role
	name         string
	tracks       []Track
	audio, video bool
	screen       string
	invited      bool
	invitation   uint64
	joined       time.Time
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
	chat    []ChatMessage // the last ChatHistory messages, within chatBytes
	// chatBytes is what chat holds, counted in budget (nil: no bound).
	chatBytes int64
	budget    *chatBudget
	chatSeq   uint64
	// invitations numbers the host's invitations to the stage.
	invitations uint64
	speaker     string
	// snap is the room as Snapshot last made it, nil once it changed
	// (changedLocked): every change notifies every member, and each takes
	// a snapshot, so one made per change serves them all.
	snap *Snapshot
	// viewers numbers the audience members who join without a name, so the
	// stage (and /admin/stats) can tell "Viewer 3" from "Viewer 4".
	viewers uint64
	// wasLive: the stage has published since the room opened, so a viewer
	// can tell a broadcast that ended from one nobody has started.
	wasLive bool

	// audience spreads out the notifications of audience changes.
	audience audienceNotice

	// recording and recordingEnd are Snapshot's; watchers are told of
	// every change (copy-on-write: notify reads the slice unlocked).
	recording    *Recording
	recordingEnd *RecordingEnd
	watchers     []Watcher
	// cluster, when the server is a node of one, shares the room with the
	// other nodes (cluster.go); remote are the members on those nodes, by
	// node, and relayed the tracks their node links brought, by publisher.
	cluster Cluster
	remote  map[string][]RemoteMember
	relayed map[string][]Track
	synced  atomic.Bool
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
	stage := r.stageLocked() + r.remoteStageLocked()
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
	// On a node of a cluster the room's members on the other nodes count
	// too (remoteCountLocked; none on one node).
	if maxParticipants > 0 && len(r.members)+r.remoteCountLocked() >= maxParticipants {
		r.mu.Unlock()
		return &FullError{Max: maxParticipants}
	}
	if role == Stage {
		if err := r.mayJoinStageLocked(); err != nil {
			r.mu.Unlock()
			return err
		}
	}
	r.changedLocked()
	if name == "" && role == Audience {
		r.viewers++
		name = fmt.Sprintf("%s %d", UnnamedViewer, r.viewers)
	}
	r.members[m.ID()] = &entry{member: m, role: role, name: name, joined: time.Now()}
	r.order = append(r.order, m.ID())
	if r.host == "" && role == Stage {
		r.host = m.ID()
	}
	r.mu.Unlock()
	r.log.Info("joined", "participant", m.ID(), "role", role, "name", name)
	if role == Audience {
		r.notifyAudience()
	} else {
		r.notify()
	}
	return nil
}

// SetRole moves m itself between audience and stage. Taking the stage
// this way is for a member whose credentials for the stage the caller has
// checked, as for a join as stage: it follows the same rules (a broadcast
// has one streamer of its own), and the member becomes host when the room
// has none.
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
	}
	r.setRoleLocked(m.ID(), e, role)
	r.mu.Unlock()
	r.log.Info("role changed", "participant", m.ID(), "role", role)
	r.notify()
	return nil
}

// Accept takes the stage on the host's invitation. It passes a broadcast's
// one-streamer rule (the host invited a guest), not the stage's size.
func (r *Room) Accept(m Member) error {
	r.mu.Lock()
	e, ok := r.members[m.ID()]
	if !ok {
		r.mu.Unlock()
		return ErrNotMember
	}
	if e.role == Stage {
		r.mu.Unlock()
		return nil
	}
	if !e.invited {
		r.mu.Unlock()
		return ErrNotInvited
	}
	if r.stageLocked() >= MaxStage {
		r.mu.Unlock()
		return ErrRoomFull
	}
	r.setRoleLocked(m.ID(), e, Stage)
	r.mu.Unlock()
	r.log.Info("invitation accepted", "participant", m.ID())
	r.notify()
	return nil
}

// Move is a member changing where target is. The host invites an audience
// member to the stage (the invitation waits for Accept or a decline), or
// sends a stage member back to the audience, withdrawing an invitation
// too. Anyone may move themselves to the audience: declining an
// invitation, or leaving the stage.
func (r *Room) Move(by Member, target string, role Role) error {
	return r.MoveBy(by.ID(), target, role)
}

// MoveBy is Move by the member whose id is by, who may be on another node
// of the cluster: a host there moving a member here.
func (r *Room) MoveBy(by, target string, role Role) error {
	r.mu.Lock()
	self := target == by
	if r.clusterHostLocked() != by && (!self || role != Audience) {
		r.mu.Unlock()
		return ErrNotHost
	}
	e, ok := r.members[target]
	if !ok {
		node := r.remoteNodeLocked(target)
		r.mu.Unlock()
		if node != "" && r.cluster != nil {
			// On another node: that node moves them.
			return r.cluster.Move(r, node, by, target, role)
		}
		return ErrNotMember
	}
	switch {
	case role == Stage && e.role == Stage:
		r.mu.Unlock()
		return nil
	case role == Stage:
		if r.stageLocked() >= MaxStage {
			r.mu.Unlock()
			return ErrRoomFull
		}
		r.changedLocked()
		r.invitations++
		e.invited, e.invitation = true, r.invitations
		r.mu.Unlock()
		r.log.Info("invited to the stage", "participant", target, "host", by)
		r.notify()
		return nil
	case e.role == Audience && !e.invited:
		r.mu.Unlock()
		return nil
	}
	r.setRoleLocked(target, e, Audience)
	r.mu.Unlock()
	r.log.Info("moved to the audience", "participant", target, "by", by)
	r.notify()
	return nil
}

// stageLocked counts the stage. r.mu must be held.
func (r *Room) stageLocked() int {
	n := 0
	for _, e := range r.members {
		if e.role == Stage {
			n++
		}
	}
	return n
}

// setRoleLocked moves the member id to role and keeps the host on stage:
// a member taking the stage of a room without a host becomes host, and a
// host who leaves the stage hands over to the next one on it. r.mu must
// be held.
func (r *Room) setRoleLocked(id string, e *entry, role Role) {
	r.changedLocked()
	e.role, e.invited = role, false
	if role == Audience {
		e.tracks, e.audio, e.video, e.screen = nil, false, false, ""
		if r.host == id {
			r.host = r.nextHostLocked()
		}
	} else if r.host == "" {
		r.host = id
	}
}

// Publish sets the tracks m publishes; nil stops publishing.
func (r *Room) Publish(m Member, tracks []Track) error {
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
	if len(tracks) > 0 {
		r.wasLive = true
	}
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
	msg := ChatMessage{From: m.ID(), Name: e.name, Text: text, Time: time.Now().UTC()}
	if r.cluster != nil {
		r.mu.Unlock()
		return r.cluster.Chat(r, msg)
	}
	r.addChatLocked(msg)
	r.mu.Unlock()
	r.notify()
	return nil
}

// addChatLocked keeps msg in the chat history, numbered. r.mu must be
// held.
func (r *Room) addChatLocked(msg ChatMessage) {
	r.changedLocked()
	r.chatSeq++
	msg.Seq = r.chatSeq
	r.chat = append(r.chat, msg)
	r.chatBytes += r.budget.take(msg)
	drop := 0
	for len(r.chat)-drop > 1 && (len(r.chat)-drop > ChatHistory || r.budget.over(r.chatBytes)) {
		r.chatBytes -= r.budget.give(r.chat[drop])
		drop++
	}
	r.chat = slices.Delete(r.chat, 0, drop)
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
	e, ok := r.members[m.ID()]
	// An audience member without an invitation, who is not the speaker,
	// is in no member's list but the stage's.
	audience := ok && e.role == Audience && !e.invited && r.speaker != m.ID()
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
	switch {
	case audience:
		r.log.Info("left", "participant", m.ID())
		r.notifyAudience()
	case ok:
		r.log.Info("left", "participant", m.ID())
		r.notify()
	}
	return empty
}

// nextHostLocked picks who hosts after the host left the room or the
// stage: the earliest member on stage. Only the stage hosts: an audience
// member, whatever let them watch, never gets a host's rights, so a room
// whose stage is empty has no host until someone takes the stage with
// the stage's credentials.
func (r *Room) nextHostLocked() string {
	for _, id := range r.order {
		if r.members[id].role == Stage {
			return id
		}
	}
	return ""
}

// close stops the room's speaker detection and gives back what its chat
// held; the directory's lock is held.
func (r *Room) close() {
	close(r.stop)
	r.stopAudience()
	r.mu.Lock()
	for _, c := range r.chat {
		r.chatBytes -= r.budget.give(c)
	}
	r.chat = nil
	r.mu.Unlock()
}

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
			Invited: e.invited, Invitation: e.invitation,
		})
	}
	if r.remote != nil || r.relayed != nil {
		r.remoteSnapshotLocked(&s)
	}
	s.Live = len(s.Tracks) > 0
	s.WasLive = r.wasLive
	s.Recording, s.RecordingEnd = r.recording, r.recordingEnd
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

// notify tells every member, and the cluster, that the room changed.
func (r *Room) notify() {
	if r.cluster != nil {
		r.cluster.Changed(r)
	}
	r.notifyMembers()
}

// notifyMembers tells every member that the room changed.
func (r *Room) notifyMembers() {
	for _, m := range r.memberList() {
		m.Notify()
	}
	r.notifyWatchers()
}

// memberList copies the members under the lock, so that they are called
// without it.
func (r *Room) memberList() []Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	members := make([]Member, 0, len(r.members))
	for _, e := range r.members {
		members = append(members, e.member)
	}
	return members
}
