package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/meetd/meetd/internal/room"
)

// writeEvery gathers the changes of a room's members into one write.
const writeEvery = 50 * time.Millisecond

// member is one participant as the members bucket holds it.
type member struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Host     bool      `json:"host,omitempty"`
	Audio    bool      `json:"audio,omitempty"`
	Video    bool      `json:"video,omitempty"`
	Screen   string    `json:"screen,omitempty"`
	Invited  bool      `json:"invited,omitempty"`
	Joined   time.Time `json:"joined"`
	Invitati uint64    `json:"invitation,omitempty"`
}

func toWire(ms []room.RemoteMember) []member {
	out := make([]member, len(ms))
	for i, m := range ms {
		out[i] = member{ID: m.ID, Name: m.Name, Role: m.Role.String(), Host: m.NodeHost, Audio: m.Audio, Video: m.Video,
			Screen: m.Screen, Invited: m.Invited, Joined: m.Joined, Invitati: m.Invitation}
	}
	return out
}

func fromWire(ms []member) []room.RemoteMember {
	out := make([]room.RemoteMember, len(ms))
	for i, m := range ms {
		role := room.Audience
		if m.Role == "stage" {
			role = room.Stage
		}
		out[i] = room.RemoteMember{
			Participant: room.Participant{ID: m.ID, Name: m.Name, Role: role, Audio: m.Audio, Video: m.Video,
				Screen: m.Screen, Invited: m.Invited, Invitation: m.Invitati},
			Joined: m.Joined, NodeHost: m.Host,
		}
	}
	return out
}

func keyOf(r *room.Room) roomKey { return roomKey{r.Kind(), r.Name()} }

// Opened implements room.Cluster: the node follows the room's entries
// and chat in NATS while it has the room open.
func (n *Node) Opened(r *room.Room) {
	k := keyOf(r)
	ctx, stop := context.WithCancel(n.ctx)
	rs := &roomState{r: r, remote: map[string][]room.RemoteMember{}, applied: map[string]bool{}, stop: stop,
		rewatch: make(chan struct{}, 1), rechat: make(chan struct{}, 1)}
	n.mu.Lock()
	if n.ctx.Err() != nil {
		// The node left the cluster (Leave): the room is this node's alone.
		n.mu.Unlock()
		stop()
		return
	}
	if old := n.rooms[k]; old != nil {
		old.stop()
	}
	n.rooms[k] = rs
	n.dirty[k] = true
	// Under n.mu, so that it comes before Leave's wait or not at all.
	n.wg.Add(2)
	n.mu.Unlock()
	go n.watchRoom(ctx, k, rs)
	go n.followChat(ctx, k, rs)
	n.relayTo(k, r)
	n.wake()
}

// Closed implements room.Cluster.
func (n *Node) Closed(r *room.Room) {
	k := keyOf(r)
	n.mu.Lock()
	if rs := n.rooms[k]; rs != nil && rs.r == r {
		rs.stop()
		delete(n.rooms, k)
		n.dirty[k] = true
	}
	n.mu.Unlock()
	n.wake()
}

// Changed implements room.Cluster: this node's members of r are written
// at the next pass.
func (n *Node) Changed(r *room.Room) {
	k := keyOf(r)
	n.mu.Lock()
	n.dirty[k] = true
	n.mu.Unlock()
	n.wake()
}

// chatMessage is a chat message on its subject.
type chatMessage struct {
	From string    `json:"from"`
	Name string    `json:"name"`
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// Chat implements room.Cluster. The message goes to the room's subject;
// the chat stream keeps it for late joiners, and every node's room,
// this one's too, gets it from there (followChat). While NATS is away
// the client library holds it until it is back.
func (n *Node) Chat(r *room.Room, msg room.ChatMessage) error {
	data, err := json.Marshal(chatMessage{From: msg.From, Name: msg.Name, Text: msg.Text, Time: msg.Time})
	if err != nil {
		return err
	}
	return n.nc.Publish(chatSubject+"."+keyOf(r).key(), data)
}

// followChat feeds the room the chat: what the stream kept, then what
// comes. When NATS comes back it follows anew from the last message it
// had, at once rather than when the consumer finds out by itself.
func (n *Node) followChat(ctx context.Context, k roomKey, rs *roomState) {
	defer n.wg.Done()
	var last atomic.Uint64 // the stream sequence of the last message had
	for ctx.Err() == nil {
		cfg := jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{chatSubject + "." + k.key()}, DeliverPolicy: jetstream.DeliverAllPolicy,
		}
		if seq := last.Load(); seq > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
		}
		cons, err := n.js.OrderedConsumer(ctx, chatStream, cfg)
		if err == nil {
			var cc jetstream.ConsumeContext
			cc, err = cons.Consume(func(m jetstream.Msg) {
				if meta, err := m.Metadata(); err == nil {
					if meta.Sequence.Stream <= last.Load() {
						return // had already
					}
					last.Store(meta.Sequence.Stream)
				}
				var c chatMessage
				if json.Unmarshal(m.Data(), &c) != nil {
					return
				}
				rs.r.AddChat(room.ChatMessage{From: c.From, Name: c.Name, Text: c.Text, Time: c.Time})
			})
			if err == nil {
				select {
				case <-ctx.Done():
					cc.Stop()
					return
				case <-rs.rechat:
					cc.Stop()
					continue
				}
			}
		}
		n.log.Debug("follow chat", "room", k.key(), "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// watchRoom follows the other nodes' entries of the room.
func (n *Node) watchRoom(ctx context.Context, k roomKey, rs *roomState) {
	defer n.wg.Done()
	for ctx.Err() == nil {
		w, err := n.members.Watch(ctx, k.key()+".*")
		if err != nil {
			n.log.Debug("watch room", "room", k.key(), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		updates := w.Updates()
	watch:
		for {
			var e jetstream.KeyValueEntry
			var ok bool
			select {
			case e, ok = <-updates:
				if !ok {
					break watch
				}
			case <-rs.rewatch:
				break watch
			}
			if e == nil {
				// The entries there were are in.
				rs.r.MarkSynced()
				continue
			}
			node := e.Key()[strings.LastIndexByte(e.Key(), '.')+1:]
			if node == n.name {
				if e.Operation() != jetstream.KeyValuePut {
					// Another node took this one for gone: write it again.
					n.Changed(rs.r)
				}
				continue
			}
			var ms []member
			if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &ms) != nil {
				n.log.Warn("bad room entry in NATS", "key", e.Key())
				continue
			}
			n.mu.Lock()
			if len(ms) == 0 {
				delete(rs.remote, node)
			} else {
				rs.remote[node] = fromWire(ms)
			}
			n.mu.Unlock()
			n.apply(rs)
			n.wake()
		}
		_ = w.Stop()
	}
}

// apply gives the room the members of the live nodes.
func (n *Node) apply(rs *roomState) {
	type set struct {
		node    string
		members []room.RemoteMember
	}
	var sets []set
	n.mu.Lock()
	for node, ms := range rs.remote {
		if n.isAliveLocked(node) {
			sets = append(sets, set{node, ms})
			rs.applied[node] = true
		}
	}
	for node := range rs.applied {
		if _, ok := rs.remote[node]; !ok || !n.isAliveLocked(node) {
			sets = append(sets, set{node, nil})
			delete(rs.applied, node)
		}
	}
	n.mu.Unlock()
	for _, s := range sets {
		rs.r.SetRemote(s.node, s.members)
	}
}

// writeRooms writes this node's members of the rooms that changed.
func (n *Node) writeRooms() {
	n.mu.Lock()
	type write struct {
		key string
		r   *room.Room
	}
	var writes []write
	for k := range n.dirty {
		var r *room.Room
		if rs := n.rooms[k]; rs != nil {
			r = rs.r
		}
		writes = append(writes, write{k.key() + "." + n.name, r})
	}
	clear(n.dirty)
	n.mu.Unlock()
	for _, w := range writes {
		ctx, cancel := context.WithTimeout(n.ctx, requestTimeout)
		var err error
		if w.r == nil {
			err = n.members.Delete(ctx, w.key)
		} else {
			data, _ := json.Marshal(toWire(w.r.LocalMembers()))
			_, err = n.members.Put(ctx, w.key, data)
		}
		cancel()
		if err != nil && n.ctx.Err() == nil {
			// Written again once NATS is back (reconnected).
			n.log.Debug("write room entry", "key", w.key, "err", err)
		}
	}
}

// run writes this node's entries and keeps its node links, at each wake
// and every second.
func (n *Node) run() {
	defer n.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.kick:
			// Gather what else changes meanwhile into this pass.
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(writeEvery):
			}
		case <-t.C:
		}
		n.writeRooms()
		n.releaseStages()
		n.keepLinks()
	}
}
