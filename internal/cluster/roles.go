package cluster

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go"

	"github.com/meetd/meetd/internal/room"
)

// moveSubject.<node> carries moves of a node's members asked on another
// node: the host there inviting one of them to the stage or sending them
// back to the audience.
const moveSubject = "meetd.move"

type moveRequest struct {
	Kind   string `json:"kind"`
	Room   string `json:"room"`
	By     string `json:"by"`
	Target string `json:"target"`
	Role   string `json:"role"`
}

type moveReply struct {
	// Error is empty, or one of the room's errors by name.
	Error string `json:"error,omitempty"`
}

// The room errors a move can end with, by their name on the wire.
var moveErrors = map[string]error{
	"not_host": room.ErrNotHost, "not_found": room.ErrNotMember, "room_full": room.ErrRoomFull,
}

// Move implements room.Cluster: node moves its member target of r.
func (n *Node) Move(r *room.Room, node, by, target string, role room.Role) error {
	req := mustJSON(moveRequest{Kind: r.Kind().String(), Room: r.Name(), By: by, Target: target, Role: role.String()})
	ctx, cancel := context.WithTimeout(n.ctx, requestTimeout)
	defer cancel()
	msg, err := n.nc.RequestWithContext(ctx, moveSubject+"."+node, req)
	if err != nil {
		return err
	}
	var rep moveReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return err
	}
	if rep.Error == "" {
		return nil
	}
	if e, ok := moveErrors[rep.Error]; ok {
		return e
	}
	return errors.New(rep.Error)
}

// handleMove moves a member of this node for a host on another.
func (n *Node) handleMove(msg *nats.Msg) {
	var req moveRequest
	reply := func(err error) {
		rep := moveReply{}
		if err != nil {
			rep.Error = err.Error()
			for name, e := range moveErrors {
				if errors.Is(err, e) {
					rep.Error = name
				}
			}
		}
		_ = msg.Respond(mustJSON(rep))
	}
	if err := json.Unmarshal(msg.Data, &req); err != nil {
		reply(errors.New("bad request"))
		return
	}
	k := roomKey{room.Broadcast, req.Room}
	if req.Kind == "meeting" {
		k.kind = room.Meeting
	}
	role := room.Audience
	if req.Role == "stage" {
		role = room.Stage
	}
	n.mu.Lock()
	rs := n.rooms[k]
	n.mu.Unlock()
	if rs == nil {
		reply(room.ErrNotMember)
		return
	}
	n.log.Info("move asked by another node", "room", k.key(), "by", req.By, "target", req.Target, "role", req.Role)
	reply(rs.r.MoveBy(req.By, req.Target, role))
}
