package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/meetd/meetd/internal/room"
)

// stagesBucket holds, for each broadcast that is live somewhere, who holds
// its stage: one streamer per broadcast, cluster-wide, claimed with a
// create that only one node can win.
const stagesBucket = "meetd_stages"

type stageClaim struct {
	Node        string `json:"node"`
	Participant string `json:"participant"`
}

// ClaimStage takes the stage of the broadcast name for participant, in the
// whole cluster: room.ErrAlreadyLive when a participant of a live node
// holds it. The claim goes when the participant leaves the stage (see
// releaseStages). Without NATS the node's own rule decides, as for one
// node.
func (n *Node) ClaimStage(name, participant string) error {
	if n.ctx.Err() != nil {
		return nil // the node left the cluster (Leave): its own rule decides
	}
	key := "b." + name
	value := mustJSON(stageClaim{Node: n.name, Participant: participant})
	ctx, cancel := context.WithTimeout(n.ctx, requestTimeout)
	defer cancel()
	rev, err := n.stages.Create(ctx, key, value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		var e jetstream.KeyValueEntry
		if e, err = n.stages.Get(ctx, key); err == nil {
			var held stageClaim
			_ = json.Unmarshal(e.Value(), &held)
			n.mu.Lock()
			alive := n.isAliveLocked(held.Node)
			n.mu.Unlock()
			// A claim of this node that its room no longer backs (the
			// room's own rule let this one in), or of a node gone, is
			// stale.
			if held.Node != n.name && alive {
				return room.ErrAlreadyLive
			}
			if rev, err = n.stages.Update(ctx, key, value, e.Revision()); err != nil {
				if errors.Is(err, jetstream.ErrKeyExists) {
					return room.ErrAlreadyLive // another took it first
				}
			}
		}
	}
	if err != nil {
		n.log.Warn("stage claim: NATS did not answer; the node's own rule decides", "room", name, "err", err)
		return nil
	}
	n.mu.Lock()
	n.claims[name] = claim{participant, rev, time.Now()}
	n.mu.Unlock()
	return nil
}

type claim struct {
	participant string
	revision    uint64
	// at is when it was made: the participant joins the room just after.
	at time.Time
}

// claimGrace is how long a claim stands before its participant is on
// stage.
const claimGrace = 2 * time.Second

// releaseStages gives up the claims of participants no longer on the
// stage of their broadcast here.
func (n *Node) releaseStages() {
	type release struct {
		name string
		rev  uint64
	}
	var releases []release
	n.mu.Lock()
	for name, c := range n.claims {
		onStage := false
		if rs := n.rooms[roomKey{room.Broadcast, name}]; rs != nil {
			for _, m := range rs.r.LocalMembers() {
				onStage = onStage || (m.ID == c.participant && m.Role == room.Stage)
			}
		}
		if !onStage && time.Since(c.at) > claimGrace {
			releases = append(releases, release{name, c.revision})
			delete(n.claims, name)
		}
	}
	n.mu.Unlock()
	for _, r := range releases {
		ctx, cancel := context.WithTimeout(n.ctx, requestTimeout)
		// Only the claim this node made: one taken over since stays.
		err := n.stages.Delete(ctx, "b."+r.name, jetstream.LastRevision(r.rev))
		cancel()
		if err != nil && n.ctx.Err() == nil {
			n.log.Debug("stage release", "room", r.name, "err", err)
		}
	}
}
