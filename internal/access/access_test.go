package access

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

func TestAdmit(t *testing.T) {
	secret := []byte("test secret")
	stageHash := quickHash(t, "present")
	viewHash := quickHash(t, "watch")
	p, err := New([]Room{
		{Kind: "meeting", Name: "board", StagePassword: stageHash, AudiencePassword: viewHash, MaxParticipants: 8},
		{Name: "keynote", StageToken: true},
		{Name: "private", StageToken: true, AudienceToken: true},
	}, secret)
	if err != nil {
		t.Fatal(err)
	}
	token := func(c Claims, ttl time.Duration) string {
		s, err := Sign(secret, c, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	forged, _ := Sign([]byte("other secret"), Claims{Room: "keynote", Role: Stage}, time.Hour)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, Claims{Room: "keynote", Role: Stage,
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}})
	unsigned, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	noExpiry, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{Room: "keynote", Role: Stage}).SignedString(secret)

	tests := []struct {
		name string
		req  Request
		want error
		who  string
	}{
		{"open room", Request{Room: "anything", Role: Stage}, nil, ""},
		{"meeting kind matters", Request{Kind: "broadcast", Room: "board", Role: Stage}, nil, ""},
		{"password needed", Request{Kind: "meeting", Room: "board", Role: Stage}, ErrAuthRequired, ""},
		{"stage password", Request{Kind: "meeting", Room: "board", Role: Stage, Password: "present"}, nil, ""},
		{"viewer password on stage", Request{Kind: "meeting", Room: "board", Role: Stage, Password: "watch"}, ErrBadPassword, ""},
		{"viewer password", Request{Kind: "meeting", Room: "board", Role: Audience, Password: "watch"}, nil, ""},
		{"stage password to watch", Request{Kind: "meeting", Room: "board", Role: Audience, Password: "present"}, nil, ""},
		{"wrong password", Request{Kind: "meeting", Room: "board", Role: Audience, Password: "guess"}, ErrBadPassword, ""},
		{"token needed", Request{Room: "keynote", Role: Stage, Password: "present"}, ErrAuthRequired, ""},
		{"keynote audience open", Request{Room: "keynote", Role: Audience}, nil, ""},
		{"stage token", Request{Room: "keynote", Role: Stage, Token: token(Claims{Kind: "broadcast", Room: "keynote", Role: Stage, Name: "Ana"}, time.Hour)}, nil, "Ana"},
		{"audience token on stage", Request{Room: "keynote", Role: Stage, Token: token(Claims{Kind: "broadcast", Room: "keynote", Role: Audience}, time.Hour)}, ErrBadToken, ""},
		{"token for another room", Request{Room: "private", Role: Audience, Token: token(Claims{Kind: "broadcast", Room: "keynote", Role: Stage}, time.Hour)}, ErrBadToken, ""},
		{"token for another kind", Request{Room: "keynote", Role: Stage, Token: token(Claims{Kind: "meeting", Room: "keynote", Role: Stage}, time.Hour)}, ErrBadToken, ""},
		{"expired token", Request{Room: "keynote", Role: Stage, Token: token(Claims{Kind: "broadcast", Room: "keynote", Role: Stage}, -time.Minute)}, ErrBadToken, ""},
		{"forged token", Request{Room: "keynote", Role: Stage, Token: forged}, ErrBadToken, ""},
		{"unsigned token", Request{Room: "keynote", Role: Stage, Token: unsigned}, ErrBadToken, ""},
		{"token without expiry", Request{Room: "keynote", Role: Stage, Token: noExpiry}, ErrBadToken, ""},
		{"garbage token", Request{Room: "keynote", Role: Stage, Token: "not.a.token"}, ErrBadToken, ""},
		{"token without kind", Request{Room: "keynote", Role: Stage, Token: token(Claims{Room: "keynote", Role: Stage}, time.Hour)}, ErrBadToken, ""},
		{"private needs a token to watch", Request{Room: "private", Role: Audience}, ErrAuthRequired, ""},
	}
	for _, tt := range tests {
		g, err := p.Admit(tt.req)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if err == nil && g.Name != tt.who {
			t.Errorf("%s: name %q, want %q", tt.name, g.Name, tt.who)
		}
	}
	// A refusal says why, once.
	for _, tt := range []struct {
		claims Claims
		ttl    time.Duration
		want   string
	}{
		{Claims{Kind: "broadcast", Room: "keynote", Role: Stage}, -time.Minute, "it has expired"},
		{Claims{Room: "keynote", Role: Stage}, time.Hour, "it does not say whether it is for a meeting or a broadcast"},
	} {
		_, err := p.Admit(Request{Room: "keynote", Role: Stage, Token: token(tt.claims, tt.ttl)})
		if got, want := Reason(err), tt.want; got != want {
			t.Errorf("reason %q (%v), want %q", got, err, want)
		}
	}
	if g, _ := p.Admit(Request{Kind: "meeting", Room: "board", Role: Audience, Password: "watch"}); g.MaxParticipants != 8 {
		t.Errorf("room limit %d", g.MaxParticipants)
	}
}

// quickHash hashes at the lowest cost, to keep tests fast.
func quickHash(t *testing.T, pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		path := filepath.Join(dir, "rooms.json")
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	hash := quickHash(t, "pw")
	if _, err := Load(write(`{"rooms":[{"name":"a","stagePassword":"`+hash+`"}]}`), nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"rooms":[{"name":"a","stagePassword":"plain text"}]}`,
		`{"rooms":[{"name":"a","kind":"party"}]}`,
		`{"rooms":[{"name":"a","stageToken":true}]}`,
		`not json`,
	} {
		if _, err := Load(write(bad), nil); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
