package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/limit"
	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
)

func kindOf(kind string) room.Kind {
	if kind == signal.KindMeeting {
		return room.Meeting
	}
	return room.Broadcast
}

func roleOf(role string) room.Role {
	if role == signal.RoleStage {
		return room.Stage
	}
	return room.Audience
}

// roomError turns a room's refusal into words for the client.
func roomError(err error, name string) *signal.Error {
	var over *limit.Error
	var full *room.FullError
	switch {
	case errors.As(err, &over):
		return &signal.Error{Code: signal.CodeRateLimited, Message: over.Error(), RetryAfter: over.Seconds()}
	case errors.As(err, &full):
		return signal.Errorf(signal.CodeRoomFull, "%q is full: it has its %d participants.", name, full.Max)
	case errors.Is(err, room.ErrAlreadyLive):
		return signal.Errorf(signal.CodeAlreadyLive, "The broadcast %q is already live from another streamer.", name)
	case errors.Is(err, room.ErrRoomFull):
		return signal.Errorf(signal.CodeRoomFull, "The stage of %q is full (%d people).", name, room.MaxStage)
	case errors.Is(err, room.ErrNotHost):
		return signal.Errorf(signal.CodeNotHost, "Only the host of %q can do this.", name)
	case errors.Is(err, room.ErrNotInvited):
		return signal.Errorf(signal.CodeNotAllowed, "Only the host of %q can invite you to the stage; you are watching.", name)
	case errors.Is(err, room.ErrNotMember):
		return signal.Errorf(signal.CodeNotFound, "That participant is not in %q.", name)
	case errors.Is(err, room.ErrServerFull):
		return signal.Errorf(signal.CodeServerFull, "This meetd has as many rooms as it may; try again later.")
	case errors.Is(err, access.ErrAuthRequired):
		return signal.Errorf(signal.CodeAuthRequired, "%q needs a password or an invitation link.", name)
	case errors.Is(err, access.ErrBadPassword):
		return signal.Errorf(signal.CodeBadCredentials, "That password for %q is wrong.", name)
	case errors.Is(err, access.ErrBadToken):
		return signal.Errorf(signal.CodeBadCredentials, "The invitation for %q is not valid: %s.", name, access.Reason(err))
	}
	return signal.Errorf(signal.CodeInternal, "%q: %v.", name, err)
}

// joinRoom enters a room; m is the join message, nil for a plain client.
func (c *Client) joinRoom(kind room.Kind, name string, role room.Role, m *signal.Message) bool {
	var displayName string
	var password, token string
	if m != nil {
		password, token = m.Password, m.Token
	}
	grant, err := c.admit(kind, name, role, password, token)
	if err != nil {
		c.refuseJoin(err, name)
		return false
	}
	if m != nil {
		displayName = m.Name
	}
	if grant.Name != "" {
		displayName = grant.Name
	}
	if err := c.claimStage(kind, name, role); err != nil {
		c.refuseJoin(err, name)
		return false
	}
	r, err := c.env.Rooms.Join(kind, name, c, role, displayName, grant.MaxParticipants)
	if err != nil {
		c.refuseJoin(err, name)
		return false
	}
	c.room, c.role, c.name = r, role, displayName
	c.log = c.env.Log.With("participant", c.id, "room", name, "kind", kind.String())
	if !c.plain {
		c.conn.Send(signal.Message{
			Type: signal.TypeJoined, Room: name, Kind: kind.String(), Role: role.String(), ID: c.id,
			ICEServers: c.iceServers(),
		})
	}
	c.reconcile()
	return true
}

// iceServers are the ICE servers the client should use: meetd's TURN with
// the client's own credential, then the configured ones.
func (c *Client) iceServers() []signal.ICEServer {
	if c.env.TURN == nil {
		return c.env.ICEServers
	}
	return append(c.env.TURN(c.host, c.id), c.env.ICEServers...)
}

// leaveRoom stops publishing and watching and leaves the room.
func (c *Client) leaveRoom() {
	c.stopPublishing()
	c.closeSubscriber()
	c.early, c.views = nil, nil
	if c.room != nil {
		c.env.Rooms.Leave(c.room, c)
		c.room = nil
	}
	c.lastState, c.lastParticipants, c.lastNear, c.lastSpeaker, c.chatSeq, c.chatSynced = nil, nil, nil, nil, 0, false
	c.lastRecording = ""
	c.invitation = 0
}

// reconcile brings the client in line with its room: its role, what it was
// last told, and the tracks its subscribe connection carries.
func (c *Client) reconcile() {
	if c.room == nil {
		return
	}
	snap := c.room.Snapshot()
	for _, p := range snap.Participants {
		if p.ID != c.id {
			continue
		}
		if p.Role != c.role {
			c.roleChanged(p.Role)
		}
		if p.Invited && p.Invitation != c.invitation && !c.plain {
			c.conn.Send(signal.Message{Type: signal.TypeInvited, Room: snap.Name})
			c.invitation = p.Invitation
		}
	}
	c.autoRecord(snap)
	if !c.plain {
		c.sendState(snap)
		c.sendParticipants(snap)
		c.sendRecording(snap)
		c.sendChat(snap)
		if c.lastSpeaker == nil || *c.lastSpeaker != snap.Speaker {
			c.lastSpeaker = &snap.Speaker
			c.conn.Send(signal.Message{Type: signal.TypeSpeaker, ID: snap.Speaker})
		}
	}
	c.updateSubscriber(c.othersTracks(snap.Tracks), snap.Live)
}

// othersTracks are the tracks of a stage that c is to receive: the
// others'. A stage holds the sfu.Tracks that clients publish.
func (c *Client) othersTracks(stage []room.Published) []*sfu.Track {
	var tracks []*sfu.Track
	for _, p := range stage {
		if t, ok := p.Track.(*sfu.Track); ok && p.Publisher != c.id {
			tracks = append(tracks, t)
		}
	}
	return tracks
}

// roleChanged follows the host moving this client.
func (c *Client) roleChanged(role room.Role) {
	c.log.Info("role changed by the host", "role", role)
	c.role = role
	if role == room.Audience {
		c.stopPublishing()
	}
	if !c.plain {
		c.conn.Send(signal.Message{Type: signal.TypeRole, Role: role.String()})
	}
}

// viewerCountEvery is how often at most a client is told that only the
// audience's size changed: when many join or leave at once (a broadcast
// starting, a large audience coming and going), every member would
// otherwise get a message for each of them. Whether the room is live is
// told at once.
const viewerCountEvery = time.Second

func (c *Client) sendState(snap room.Snapshot) {
	live, viewers := snap.Live, snap.Viewers
	if c.lastState != nil && *c.lastState.Live == live && c.lastState.WasLive == snap.WasLive {
		if *c.lastState.Viewers == viewers {
			return
		}
		if wait := viewerCountEvery - time.Since(c.lastStateAt); wait > 0 {
			if !c.stateDue {
				c.stateDue = true
				time.AfterFunc(wait, func() {
					c.post(func() {
						c.stateDue = false
						c.reconcile()
					})
				})
			}
			return
		}
	}
	st := signal.Message{Type: signal.TypeState, Room: snap.Name, Live: &live, Viewers: &viewers, WasLive: snap.WasLive}
	c.lastState, c.lastStateAt = &st, time.Now()
	c.conn.Send(st)
}

// participantsEvery is how often at most a stage member is told that the
// audience alone changed: a meeting's stage sees everyone (to invite them),
// and a large audience arriving would otherwise send each of them a long
// list for every arrival. Changes on the stage, invitations and one's own
// entry are told at once.
const participantsEvery = time.Second

// sendParticipants sends the member list when it changed. An audience
// member sees the stage (and itself), with the audience's size in state;
// the stage sees everyone.
func (c *Client) sendParticipants(snap room.Snapshot) {
	near := make([]signal.Participant, 0, len(snap.Participants)-snap.Viewers+1)
	for _, p := range snap.Participants {
		if p.Role == room.Stage || p.Invited || p.ID == c.id {
			near = append(near, wireParticipant(p))
		}
	}
	nearData, err := json.Marshal(near)
	if err != nil {
		return
	}
	nearChanged := !bytes.Equal(nearData, c.lastNear)
	if c.role == room.Audience {
		// lastParticipants is kept only while the whole list was last sent.
		if nearChanged || c.lastParticipants != nil {
			c.lastNear, c.lastParticipants = nearData, nil
			c.conn.Send(signal.Message{Type: signal.TypeParticipants, Participants: near})
		}
		return
	}
	if !nearChanged {
		if wait := participantsEvery - time.Since(c.lastParticipantsAt); wait > 0 {
			if !c.participantsDue {
				c.participantsDue = true
				time.AfterFunc(wait, func() {
					c.post(func() {
						c.participantsDue = false
						c.reconcile()
					})
				})
			}
			return
		}
	}
	list := make([]signal.Participant, 0, len(snap.Participants))
	for _, p := range snap.Participants {
		list = append(list, wireParticipant(p))
	}
	m := signal.Message{Type: signal.TypeParticipants, Participants: list}
	data, err := json.Marshal(m)
	if err != nil || bytes.Equal(data, c.lastParticipants) {
		return
	}
	c.lastNear, c.lastParticipants, c.lastParticipantsAt = nearData, data, time.Now()
	c.conn.Send(m)
}

func wireParticipant(p room.Participant) signal.Participant {
	return signal.Participant{
		ID: p.ID, Name: p.Name, Role: p.Role.String(), Host: p.Host, Audio: p.Audio, Video: p.Video, Screen: p.Screen,
		Invited: p.Invited,
	}
}

func (c *Client) sendChat(snap room.Snapshot) {
	// What is there when the client joins is history; what comes later is not.
	history := !c.chatSynced
	c.chatSynced = true
	if snap.ChatSeq == c.chatSeq {
		return
	}
	for _, msg := range c.room.ChatSince(c.chatSeq) {
		c.conn.Send(signal.Message{
			Type: signal.TypeChat, ID: msg.From, Name: msg.Name, Text: msg.Text,
			Time: msg.Time.Format(time.RFC3339), History: history,
		})
		c.chatSeq = msg.Seq
	}
	c.chatSeq = max(c.chatSeq, snap.ChatSeq)
}

func (c *Client) handleMedia(audio, video bool, screen *string) {
	if c.room == nil {
		c.fail(signal.Errorf(signal.CodeNotJoined, "Join a room first."))
		return
	}
	if c.role != room.Stage {
		c.fail(signal.Errorf(signal.CodeNotAllowed, "Only the stage publishes media."))
		return
	}
	s := ""
	if screen != nil {
		s = *screen
	}
	if err := c.room.SetMedia(c, audio, video, s); err != nil {
		c.fail(roomError(err, c.room.Name()))
	}
}

func (c *Client) handleChat(text string) {
	if c.room == nil {
		c.fail(signal.Errorf(signal.CodeNotJoined, "Join a room first."))
		return
	}
	if !c.chatLimit.Allow() {
		c.fail(signal.Errorf(signal.CodeRateLimited, "You are sending chat messages too fast; this one was not sent."))
		return
	}
	if err := c.room.Chat(c, text); err != nil {
		c.fail(roomError(err, c.room.Name()))
	}
}

// handleRole moves a participant between audience and stage. The host
// invites (or sends back) others; a member moves itself to the audience,
// accepts an invitation, or takes the stage with the stage's credentials,
// checked as for a join as stage.
func (c *Client) handleRole(m signal.Message) {
	if c.room == nil {
		c.fail(signal.Errorf(signal.CodeNotJoined, "Join a room first."))
		return
	}
	role := roleOf(m.Role)
	if m.ID != c.id || role != room.Stage {
		if err := c.room.Move(c, m.ID, role); err != nil {
			c.fail(roomError(err, c.room.Name()))
		}
		return
	}
	err := c.room.Accept(c)
	if !errors.Is(err, room.ErrNotInvited) {
		if err != nil {
			c.fail(roomError(err, c.room.Name()))
		}
		return
	}
	if _, err := c.admit(c.room.Kind(), c.room.Name(), room.Stage, m.Password, m.Token); err != nil {
		c.refuseJoin(err, c.room.Name())
		return
	}
	if err := c.claimStage(c.room.Kind(), c.room.Name(), room.Stage); err != nil {
		c.fail(roomError(err, c.room.Name()))
		return
	}
	if err := c.room.SetRole(c, room.Stage); err != nil {
		c.fail(roomError(err, c.room.Name()))
	}
}

// claimStage takes a broadcast's stage in the whole cluster, for a client
// that takes it by itself; nothing to do for one node, other roles and
// meetings.
func (c *Client) claimStage(kind room.Kind, name string, role room.Role) error {
	if c.env.Stages == nil || kind != room.Broadcast || role != room.Stage {
		return nil
	}
	return c.env.Stages.ClaimStage(name, c.id)
}

// admit checks credentials for a room and role: a join, or a member who
// takes the stage by itself, which is checked as a join as stage is,
// within the same per-address limits.
func (c *Client) admit(kind room.Kind, name string, role room.Role, password, token string) (access.Grant, error) {
	if c.env.Access == nil {
		return access.Grant{}, nil
	}
	return c.env.Access.Admit(access.Request{
		Kind: kind.String(), Room: name, Role: role.String(), Password: password, Token: token, IP: c.Addr(),
	})
}
