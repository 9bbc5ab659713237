// Package access decides who may enter a room, and in which role: room
// passwords, kept as bcrypt hashes in a rooms file, and tokens signed with
// a server secret (HMAC JWT) that carry a room, a role, a name and an
// expiry. A room the rooms file does not list is open to everyone.
package access

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// Roles, as in the wire protocol.
const (
	Stage    = "stage"
	Audience = "audience"
)

// Errors of Admit. ErrBadToken is wrapped with the reason. Refusals by
// the Limits are *limit.Error.
var (
	ErrAuthRequired = errors.New("this room needs a password or an invitation link")
	ErrBadPassword  = errors.New("the password is wrong")
	ErrBadToken     = errors.New("the invitation token is not valid")
)

// Room is one room's rules in the rooms file.
type Room struct {
	Kind string `json:"kind"` // broadcast (default) or meeting
	Name string `json:"name"`
	// StagePassword and AudiencePassword are bcrypt hashes; empty means
	// no password for that role. The stage password also lets one watch.
	StagePassword    string `json:"stagePassword,omitempty"`
	AudiencePassword string `json:"audiencePassword,omitempty"`
	// StageToken and AudienceToken make a signed token the only way in.
	StageToken    bool `json:"stageToken,omitempty"`
	AudienceToken bool `json:"audienceToken,omitempty"`
	// MaxParticipants bounds the room; 0 means the server's default.
	MaxParticipants int `json:"maxParticipants,omitempty"`
	// Record has the room recorded whenever it is live.
	Record bool `json:"record,omitempty"`
}

// File is the rooms file.
type File struct {
	Rooms []Room `json:"rooms"`
}

// Policy holds the rules.
type Policy struct {
	rooms  map[string]Room // by kind + "/" + name
	secret []byte
	now    func() time.Time
	guard  *guard
}

// New makes a policy from rooms and a token secret (nil: tokens are refused).
func New(rooms []Room, secret []byte) (*Policy, error) {
	p := &Policy{rooms: map[string]Room{}, secret: secret, now: time.Now, guard: newGuard(Limits{})}
	for _, r := range rooms {
		if r.Kind == "" {
			r.Kind = "broadcast"
		}
		if r.Kind != "broadcast" && r.Kind != "meeting" {
			return nil, fmt.Errorf("room %q: kind %q is not broadcast or meeting", r.Name, r.Kind)
		}
		for _, h := range []string{r.StagePassword, r.AudiencePassword} {
			if h == "" {
				continue
			}
			if _, err := bcrypt.Cost([]byte(h)); err != nil {
				return nil, fmt.Errorf("room %q: a password must be a bcrypt hash (meetd -hash-password makes one): %w", r.Name, err)
			}
		}
		if (r.StageToken || r.AudienceToken) && len(secret) == 0 {
			return nil, fmt.Errorf("room %q needs tokens but no token secret is set", r.Name)
		}
		p.rooms[r.Kind+"/"+r.Name] = r
	}
	return p, nil
}

// SetLimits bounds password guessing; call it before the first Admit.
// Without it there are no bounds.
func (p *Policy) SetLimits(l Limits) { p.guard = newGuard(l) }

// Comparisons is how many bcrypt comparisons the policy has run.
func (p *Policy) Comparisons() uint64 { return p.guard.compared.Load() }

// Load reads a rooms file.
func Load(path string, secret []byte) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p, err := New(f.Rooms, secret)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Request is someone asking to join.
type Request struct {
	Kind, Room, Role string
	Password, Token  string
	// IP is the client's address, for the limits on wrong passwords.
	IP netip.Addr
}

// Grant is what an admitted request gets.
type Grant struct {
	// Name is the display name a token carries, or empty.
	Name string
	// MaxParticipants is the room's own limit, 0 for the server's default.
	MaxParticipants int
}

// Claims are what a token says.
type Claims struct {
	Kind string `json:"kind,omitempty"`
	Room string `json:"room"`
	Role string `json:"role"`
	Name string `json:"name,omitempty"`
	jwt.RegisteredClaims
}

// Admit decides on a join.
func (p *Policy) Admit(req Request) (Grant, error) {
	if req.Kind == "" {
		req.Kind = "broadcast"
	}
	rule := p.rooms[req.Kind+"/"+req.Room]
	g := Grant{MaxParticipants: rule.MaxParticipants}
	if req.Token != "" {
		c, err := p.verify(req.Token)
		if err != nil {
			return g, err
		}
		if c.Room != req.Room || c.Kind != req.Kind {
			return g, fmt.Errorf("%w: it is for the %s %q, not the %s %q", ErrBadToken, c.Kind, c.Room, req.Kind, req.Room)
		}
		if req.Role == Stage && c.Role != Stage {
			return g, fmt.Errorf("%w: it lets you watch, not present", ErrBadToken)
		}
		g.Name = c.Name
		return g, nil
	}
	hash, tokenOnly := rule.AudiencePassword, rule.AudienceToken
	if req.Role == Stage {
		hash, tokenOnly = rule.StagePassword, rule.StageToken
	}
	if tokenOnly {
		return g, ErrAuthRequired
	}
	if hash == "" {
		return g, nil
	}
	if req.Password == "" {
		return g, ErrAuthRequired
	}
	hashes := []string{hash}
	if req.Role == Audience {
		// The stage password lets one watch too.
		hashes = append(hashes, rule.StagePassword)
	}
	return g, p.guard.check(req.IP, req.Kind+"/"+req.Room, req.Password, hashes...)
}

func (p *Policy) verify(token string) (*Claims, error) {
	if len(p.secret) == 0 {
		return nil, fmt.Errorf("%w: this server does not accept tokens", ErrBadToken)
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return p.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Name}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(p.now))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: it has expired", ErrBadToken)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
	case c.Role != Stage && c.Role != Audience:
		return nil, fmt.Errorf("%w: its role %q is not stage or audience", ErrBadToken, c.Role)
	case c.Kind != "broadcast" && c.Kind != "meeting":
		// A meeting and a broadcast may share a name: a token that does
		// not say which would open both.
		return nil, fmt.Errorf("%w: it does not say whether it is for a meeting or a broadcast", ErrBadToken)
	}
	return &c, nil
}

// Sign makes a token for c, valid for ttl.
func Sign(secret []byte, c Claims, ttl time.Duration) (string, error) {
	now := time.Now()
	c.IssuedAt = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// HashPassword makes the bcrypt hash of a password for the rooms file.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// Reason is why a token was refused, in words, without the words of
// ErrBadToken itself: "it has expired".
func Reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrBadToken.Error()+": ")
}
