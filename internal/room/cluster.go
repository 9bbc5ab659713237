package room

import (
	"cmp"
	"slices"
	"time"
)

// Cluster is what a room shares with the other nodes of a cluster of meetd
// nodes (internal/cluster). A server that is one node has none, and its
// rooms pay one nil check per change for it.
type Cluster interface {
	// Opened and Closed tell that the node opened r (its first member
	// joined) and closed it (its last one left). They are called under
	// the directory's lock and must not block.
	Opened(r *Room)
	Closed(r *Room)
	// Changed tells that r changed: its own members, or what it knows of
	// the others'. It must not block.
	Changed(r *Room)
	// Chat sends msg to the room on every node, this one included (which
	// gets it back through AddChat).
	Chat(r *Room, msg ChatMessage) error
	// Move asks node, where target is a member of r, to move them, as
	// Room.MoveBy does, for by (the host, or target themselves).
	Move(r *Room, node, by, target string, role Role) error
}

// RemoteMember is a participant of the room on another node.
type RemoteMember struct {
	Participant
	// Joined is when they joined, by their node's clock: the earliest
	// joined of the nodes' hosts hosts the room.
	Joined time.Time
	// NodeHost is set when they are the host among their node's members.
	NodeHost bool
}

// SetCluster makes the directory's rooms share their state through c;
// call it before the first Join.
func (d *Directory) SetCluster(c Cluster) { d.cluster = c }

// LocalMembers lists the room's members on this node, as the other nodes
// are to see them.
func (r *Room) LocalMembers() []RemoteMember {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := make([]RemoteMember, 0, len(r.order))
	for _, id := range r.order {
		e := r.members[id]
		list = append(list, RemoteMember{
			Participant: Participant{ID: id, Name: e.name, Role: e.role, Audio: e.audio, Video: e.video, Screen: e.screen,
				Invited: e.invited, Invitation: e.invitation},
			Joined: e.joined, NodeHost: id == r.host,
		})
	}
	return list
}

// LocalTracks lists the tracks the room's members on this node publish.
func (r *Room) LocalTracks() []Published {
	r.mu.Lock()
	defer r.mu.Unlock()
	var tracks []Published
	for _, id := range r.order {
		for _, t := range r.members[id].tracks {
			tracks = append(tracks, Published{Publisher: id, Track: t})
		}
	}
	return tracks
}

// SetRemote sets the room's members on node; none takes them all out.
func (r *Room) SetRemote(node string, members []RemoteMember) {
	r.mu.Lock()
	if len(members) == 0 {
		if _, ok := r.remote[node]; !ok {
			r.mu.Unlock()
			return
		}
		delete(r.remote, node)
	} else {
		if r.remote == nil {
			r.remote = map[string][]RemoteMember{}
		}
		r.remote[node] = slices.Clone(members)
	}
	r.changedLocked()
	r.mu.Unlock()
	r.log.Debug("members on another node", "node", node, "members", len(members))
	r.notifyMembers()
}

// SetRelayed sets the tracks of publisher, a member on another node, that
// a node link brought here; none takes them off the stage.
func (r *Room) SetRelayed(publisher string, tracks []Track) {
	r.mu.Lock()
	if len(tracks) == 0 {
		delete(r.relayed, publisher)
	} else {
		if r.relayed == nil {
			r.relayed = map[string][]Track{}
		}
		r.relayed[publisher] = slices.Clone(tracks)
		r.wasLive = true
	}
	r.changedLocked()
	r.mu.Unlock()
	r.notifyMembers()
}

// MarkSynced tells that the room has heard from the cluster what the
// other nodes hold of it (their members, when it opened here).
func (r *Room) MarkSynced() { r.synced.Store(true) }

// Synced says whether the room knows what the other nodes hold of it: a
// room of one node always does; one that just opened on a node of a
// cluster does once the cluster has told it.
func (r *Room) Synced() bool { return r.cluster == nil || r.synced.Load() }

// AddChat adds a message the cluster delivered (from a member on any
// node) to the room's chat.
func (r *Room) AddChat(msg ChatMessage) {
	r.mu.Lock()
	r.addChatLocked(msg)
	r.mu.Unlock()
	r.notifyMembers()
}

// remoteSnapshotLocked adds the other nodes' members and the tracks
// relayed from them to s, and picks the room's host. r.mu must be held.
func (r *Room) remoteSnapshotLocked(s *Snapshot) {
	host := r.clusterHostLocked()
	for i := range s.Participants {
		s.Participants[i].Host = s.Participants[i].ID == host
	}
	nodes := make([]string, 0, len(r.remote))
	for n := range r.remote {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	for _, n := range nodes {
		for _, m := range r.remote[n] {
			if _, here := r.members[m.ID]; here {
				continue // moved here; the node's entry is late
			}
			p := m.Participant
			p.Node, p.Host = n, m.ID == host
			if p.Role == Audience {
				s.Viewers++
			}
			s.Participants = append(s.Participants, p)
			for _, t := range r.relayed[m.ID] {
				s.Tracks = append(s.Tracks, Published{Publisher: m.ID, Track: t, Node: n})
			}
		}
	}
}

// clusterHostLocked is the room's host: of the hosts of each node's
// members, the one who joined the earliest. Every node computes it from
// the same entries, so they agree. r.mu must be held.
func (r *Room) clusterHostLocked() string {
	if len(r.remote) == 0 {
		return r.host
	}
	type candidate struct {
		id     string
		joined time.Time
	}
	var cs []candidate
	if r.host != "" {
		cs = append(cs, candidate{r.host, r.members[r.host].joined})
	}
	for _, members := range r.remote {
		for _, m := range members {
			if m.NodeHost && m.Role == Stage {
				cs = append(cs, candidate{m.ID, m.Joined})
			}
		}
	}
	if len(cs) == 0 {
		return ""
	}
	return slices.MinFunc(cs, func(a, b candidate) int {
		if c := a.joined.Compare(b.joined); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	}).id
}

// remoteCountLocked counts the other nodes' members, those of the live
// nodes' entries in NATS. r.mu must be held.
func (r *Room) remoteCountLocked() int {
	n := 0
	for _, members := range r.remote {
		n += len(members)
	}
	return n
}

// remoteStageLocked counts the other nodes' members on stage. r.mu must
// be held.
func (r *Room) remoteStageLocked() int {
	n := 0
	for _, members := range r.remote {
		for _, m := range members {
			if m.Role == Stage {
				n++
			}
		}
	}
	return n
}

// remoteNodeLocked is the node the member id is on, empty when none
// lists them. r.mu must be held.
func (r *Room) remoteNodeLocked(id string) string {
	for node, members := range r.remote {
		for _, m := range members {
			if m.ID == id {
				return node
			}
		}
	}
	return ""
}
