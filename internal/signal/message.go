// Package signal holds meetd's wire protocol: the JSON messages exchanged over
// the /ws WebSocket (see docs/protocol.md), their decoding and validation, and
// the read and write loops of one WebSocket connection.
package signal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/pion/webrtc/v4"
)

// MaxMessageSize is the largest message meetd accepts from a client.
const MaxMessageSize = 64 << 10

// Message types. The first three are those of the original streamer/viewer
// clients and keep their exact shape.
const (
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeJoin      = "join"
	TypeLeave     = "leave"
	TypeMedia     = "media"
	TypeChat      = "chat"
	TypeRole      = "role"
	TypeView      = "view"
	TypeJoined    = "joined"
	TypeState     = "state"
	TypeError     = "error"
	// TypeRestart only comes from clients: it asks meetd to restart ICE on
	// the connection meetd offers.
	TypeRestart = "restart"
	// TypeParticipants, TypeSpeaker and TypeLayers only come from meetd.
	TypeParticipants = "participants"
	TypeSpeaker      = "speaker"
	TypeLayers       = "layers"
	// TypeInvited only comes from meetd: the host invites the client to
	// the stage; the client accepts with a role message for itself.
	TypeInvited = "invited"
	// TypeRecord comes from the host (a broadcast's streamer): start or
	// stop recording the room. TypeRecording only comes from meetd: the
	// room is being recorded, or no longer.
	TypeRecord    = "record"
	TypeRecording = "recording"
)

// Reasons a recording stopped, in a recording message.
const (
	RecordingStopped  = "stopped"
	RecordingDiskFull = "disk_full"
	RecordingEnded    = "ended"
	RecordingError    = "error"
)

// Kinds of room.
const (
	KindBroadcast = "broadcast"
	KindMeeting   = "meeting"
)

// MaxChatText bounds a chat message, in characters.
const MaxChatText = 2000

// Roles a client can ask for in a join.
const (
	RoleStage    = "stage"
	RoleAudience = "audience"
)

// Qualities a viewer can choose in a view message: automatic (by the size
// shown) or a layer of a simulcast camera.
const (
	QualityAuto   = "auto"
	QualityHigh   = "high"
	QualityMedium = "medium"
	QualityLow    = "low"
)

// MaxViewSize bounds the width and height of a view, in pixels.
const MaxViewSize = 16384

// Candidate targets: which of a client's peer connections a candidate is for.
const (
	TargetPublish   = "publish"
	TargetSubscribe = "subscribe"
)

// Error codes sent in error messages.
const (
	CodeBadMessage     = "bad_message"
	CodeUnknownType    = "unknown_type"
	CodeTooLarge       = "too_large"
	CodeBadRoom        = "bad_room"
	CodeBadRole        = "bad_role"
	CodeBadKind        = "bad_kind"
	CodeRoomFull       = "room_full"
	CodeNotHost        = "not_host"
	CodeNotFound       = "not_found"
	CodeRateLimited    = "rate_limited"
	CodeAuthRequired   = "auth_required"
	CodeBadCredentials = "bad_credentials"
	CodeServerFull     = "server_full"
	// CodeShuttingDown comes before meetd closes every connection to
	// restart or stop; clients reconnect.
	CodeShuttingDown = "shutting_down"
	CodeNotJoined    = "not_joined"
	CodeWrongState   = "wrong_state"
	CodeBadSDP       = "bad_sdp"
	CodeAlreadyLive  = "already_live"
	CodeNotAllowed   = "not_allowed"
	CodeInternal     = "internal"
	// CodeTooSlow: the client read too little of its media for too long
	// (its send queue stayed full); meetd closed its subscribe connection.
	CodeTooSlow = "too_slow"
	// CodeRecordUnavailable refuses a record: recording is off on this
	// server, or its disk is below the free-space floor or at its cap.
	CodeRecordUnavailable = "record_unavailable"
)

// Message is the one envelope for every message in both directions. Which
// fields are set depends on Type; Decode checks that the ones a client
// message needs are there.
type Message struct {
	Type string `json:"type"`

	// join, joined, state
	Room string `json:"room,omitempty"`
	// join, joined
	Kind string `json:"kind,omitempty"`
	// join, joined, role
	Role string `json:"role,omitempty"`
	// join, chat
	Name string `json:"name,omitempty"`
	// join: credentials for rooms that need them
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	// joined, role, chat, speaker: a participant
	ID         string      `json:"id,omitempty"`
	ICEServers []ICEServer `json:"iceServers,omitempty"`

	// media
	Audio  *bool   `json:"audio,omitempty"`
	Video  *bool   `json:"video,omitempty"`
	Screen *string `json:"screen,omitempty"`

	// chat
	Text    string `json:"text,omitempty"`
	Time    string `json:"time,omitempty"`
	History bool   `json:"history,omitempty"`

	// participants
	Participants []Participant `json:"participants,omitempty"`

	// offer, answer
	SDP string `json:"sdp,omitempty"`

	// candidate; Target also names the connection of restart
	Candidate *Candidate `json:"candidate,omitempty"`
	Target    string     `json:"target,omitempty"`

	// view: the stream a video belongs to, the size it is shown at
	// (0×0: not shown) and the quality the viewer chose
	Track   string `json:"track,omitempty"`
	Width   *int   `json:"width,omitempty"`
	Height  *int   `json:"height,omitempty"`
	Quality string `json:"quality,omitempty"`
	// layers: the simulcast layers (RIDs) of the publisher's track in the
	// stream Track that it should send; empty (not missing) for none.
	Active []string `json:"active,omitzero"`

	// state; WasLive (left out when false) says the room's stage has
	// published since the room opened
	Live    *bool `json:"live,omitempty"`
	Viewers *int  `json:"viewers,omitempty"`
	WasLive bool  `json:"wasLive,omitempty"`

	// record, recording: On says whether the room is (to be) recorded;
	// recording also has the recording's ID, Since (unix ms) and By when
	// on, Reason and Message when off
	On     *bool  `json:"on,omitempty"`
	Since  int64  `json:"since,omitempty"`
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`

	// error; RetryAfter, in seconds, says when a rate_limited refusal
	// may be tried again
	Code       string `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
	RetryAfter int    `json:"retryAfter,omitempty"`
}

// Participant is one member of a room as others see it.
type Participant struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Host   bool   `json:"host"`
	Audio  bool   `json:"audio"`
	Video  bool   `json:"video"`
	Screen string `json:"screen"`
	// Invited is set while an audience member has an invitation to the
	// stage they have not answered.
	Invited bool `json:"invited,omitempty"`
}

// ICEServer is one STUN or TURN server, as RTCPeerConnection takes it.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Candidate is an ICE candidate as browsers write it (RTCIceCandidateInit).
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// NewCandidate converts pion's candidate to the wire form.
func NewCandidate(c webrtc.ICECandidateInit) *Candidate {
	return &Candidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment}
}

// Init converts the candidate for pion.
func (c *Candidate) Init() webrtc.ICECandidateInit {
	return webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment}
}

// Error is a refusal to send back to the client: a code from the list above
// and words a person can read.
type Error struct {
	Code    string
	Message string
	// RetryAfter is when to try again, in seconds; 0 when it is not said.
	RetryAfter int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf makes an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, wrapping anything else as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// ErrorMessage is the wire form of err.
func ErrorMessage(err error) Message {
	e := AsError(err)
	return Message{Type: TypeError, Code: e.Code, Message: e.Message, RetryAfter: e.RetryAfter}
}

var roomName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidRoomName reports whether name may name a room.
func ValidRoomName(name string) bool { return roomName.MatchString(name) }

// maxSDP bounds a session description; real ones are a few kilobytes.
const maxSDP = 48 << 10

// Decode parses and validates one message from a client. The error is
// always an *Error that can be sent back as it is.
func Decode(data []byte) (Message, error) {
	var m Message
	if len(data) > MaxMessageSize {
		return m, Errorf(CodeTooLarge, "The message is %d bytes; the limit is %d.", len(data), MaxMessageSize)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return m, Errorf(CodeBadMessage, "A message must be a JSON object.")
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return Message{}, Errorf(CodeBadMessage, "The message is not valid JSON of the expected shape: %v.", err)
	}
	switch m.Type {
	case "":
		return m, Errorf(CodeBadMessage, "The message has no type.")
	case TypeJoin:
		if !ValidRoomName(m.Room) {
			return m, Errorf(CodeBadRoom, "Room names are 1 to 64 characters of A-Z, a-z, 0-9, _ and -.")
		}
		if m.Role != RoleStage && m.Role != RoleAudience {
			return m, Errorf(CodeBadRole, "The role must be %q or %q.", RoleStage, RoleAudience)
		}
		if len(m.Name) > 64 {
			return m, Errorf(CodeBadMessage, "A display name is at most 64 characters.")
		}
		if len(m.Password) > 256 || len(m.Token) > 4096 {
			return m, Errorf(CodeBadMessage, "The password or token is too long.")
		}
		if m.Kind == "" {
			m.Kind = KindBroadcast
		}
		if m.Kind != KindBroadcast && m.Kind != KindMeeting {
			return m, Errorf(CodeBadKind, "The kind must be %q or %q.", KindBroadcast, KindMeeting)
		}
	case TypeMedia:
		if m.Audio == nil || m.Video == nil {
			return m, Errorf(CodeBadMessage, "A media message needs audio and video, true or false.")
		}
		if m.Screen != nil && len(*m.Screen) > 64 {
			return m, Errorf(CodeBadMessage, "A stream id is at most 64 characters.")
		}
	case TypeChat:
		if strings.TrimSpace(m.Text) == "" {
			return m, Errorf(CodeBadMessage, "A chat message needs some text.")
		}
		if utf8.RuneCountInString(m.Text) > MaxChatText {
			return m, Errorf(CodeTooLarge, "A chat message is at most %d characters.", MaxChatText)
		}
	case TypeRole:
		if m.ID == "" || len(m.ID) > 64 {
			return m, Errorf(CodeBadMessage, "A role message needs the id of a participant.")
		}
		if m.Role != RoleStage && m.Role != RoleAudience {
			return m, Errorf(CodeBadRole, "The role must be %q or %q.", RoleStage, RoleAudience)
		}
		if len(m.Password) > 256 || len(m.Token) > 4096 {
			return m, Errorf(CodeBadMessage, "The password or token is too long.")
		}
	case TypeOffer, TypeAnswer:
		if m.SDP == "" {
			return m, Errorf(CodeBadMessage, "An %s needs an sdp.", m.Type)
		}
		if len(m.SDP) > maxSDP {
			return m, Errorf(CodeTooLarge, "The sdp is over %d bytes.", maxSDP)
		}
	case TypeCandidate:
		if m.Candidate == nil {
			return m, Errorf(CodeBadMessage, "A candidate message needs a candidate object.")
		}
		if m.Target != "" && m.Target != TargetPublish && m.Target != TargetSubscribe {
			return m, Errorf(CodeBadMessage, "The target must be %q or %q.", TargetPublish, TargetSubscribe)
		}
	case TypeRestart:
		if m.Target != TargetSubscribe {
			return m, Errorf(CodeBadMessage, "Only the %q connection is restarted by meetd; restart %q with an offer.",
				TargetSubscribe, TargetPublish)
		}
	case TypeView:
		if m.Track == "" || len(m.Track) > 200 {
			return m, Errorf(CodeBadMessage, "A view message needs the stream id of a track.")
		}
		if m.Width == nil || m.Height == nil || *m.Width < 0 || *m.Height < 0 ||
			*m.Width > MaxViewSize || *m.Height > MaxViewSize {
			return m, Errorf(CodeBadMessage, "A view message needs a width and height from 0 to %d.", MaxViewSize)
		}
		switch m.Quality {
		case "":
			m.Quality = QualityAuto
		case QualityAuto, QualityHigh, QualityMedium, QualityLow:
		default:
			return m, Errorf(CodeBadMessage, "The quality must be %q, %q, %q or %q.",
				QualityAuto, QualityHigh, QualityMedium, QualityLow)
		}
	case TypeRecord:
		if m.On == nil {
			return m, Errorf(CodeBadMessage, "A record message needs on, true or false.")
		}
	case TypeLeave:
	default:
		return m, Errorf(CodeUnknownType, "Unknown message type %q.", m.Type)
	}
	return m, nil
}
