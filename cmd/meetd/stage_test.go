package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// lastError is the last error meetd sent c, after waiting for one of code.
func lastError(t *testing.T, ctx context.Context, c *testclient.Client, code string) signal.Message {
	t.Helper()
	if err := c.WaitError(ctx, code); err != nil {
		t.Fatal(err)
	}
	errs := c.Errors()
	for i := len(errs) - 1; i >= 0; i-- {
		if errs[i].Code == code {
			return errs[i]
		}
	}
	t.Fatalf("no %s error", code)
	return signal.Message{}
}

// An audience member of a meeting whose stage needs a password never
// publishes: not as the first in the room, not by moving itself, not by
// inheriting the host, not with a wrong password; with the stage's
// password it may, as a join as stage would.
func TestAudienceCannotTakeTheStage(t *testing.T) {
	checkLeaks(t)
	rooms := roomsFile(t, `{"rooms":[{"kind":"meeting","name":"board","stagePassword":"{hash}"}]}`)
	m := runMeetd(t, Config{RoomsFile: rooms})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// First in the room, in the audience: no host, no stage.
	eve := dial(t, ctx, url, testclient.Options{Name: "Eve"})
	defer eve.Close()
	if err := eve.JoinKind(ctx, signal.KindMeeting, "board", signal.RoleAudience); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, code string, send func() error) {
		t.Helper()
		before := len(eve.Errors())
		if err := send(); err != nil {
			t.Fatal(err)
		}
		if err := eve.Wait(ctx, what+" refused", func() bool {
			errs := eve.Errors()
			for _, e := range errs[before:] {
				if e.Code == code {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("%s: %v (errors %+v, roles %v)", what, err, eve.Errors(), eve.Roles())
		}
	}
	moveSelf := func() error { return eve.Move(eve.ID(), signal.RoleStage) }
	refused("moving itself to the stage", signal.CodeAuthRequired, moveSelf)
	refused("a wrong stage password", signal.CodeBadCredentials, func() error { return eve.TakeStage("guess", "") })
	if err := eve.Publish(ctx); err == nil {
		t.Fatal("an audience member published")
	}

	// The host joins with the password; Eve cannot invite herself or
	// others, and when the host leaves she does not inherit the room.
	ana := dial(t, ctx, url, testclient.Options{Name: "Ana"})
	if err := ana.JoinWith(ctx, signal.Message{Kind: signal.KindMeeting, Room: "board", Role: signal.RoleStage, Password: "letmein"}); err != nil {
		t.Fatal(err)
	}
	if err := eve.Wait(ctx, "Ana hosting", func() bool {
		p, ok := eve.Participant(ana.ID())
		return ok && p.Host
	}); err != nil {
		t.Fatal(err)
	}
	if p, _ := eve.Participant(eve.ID()); p.Host {
		t.Fatal("an audience member is host")
	}
	ana.Close()
	if err := eve.Wait(ctx, "Ana gone", func() bool {
		_, ok := eve.Participant(ana.ID())
		return !ok
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range eve.Participants() {
		if p.Host {
			t.Fatalf("%s hosts a room with an empty stage", p.Name)
		}
	}
	refused("moving itself to the stage after the host left", signal.CodeAuthRequired, moveSelf)
	if err := eve.Publish(ctx); err == nil {
		t.Fatal("an audience member published after the host left")
	}
	if r := eve.Roles(); len(r) > 0 {
		t.Fatalf("meetd changed the audience member's role: %v", r)
	}

	// With the stage's password, she takes the stage and hosts.
	takeStage(t, ctx, eve, "letmein")
}

// An invitation to the stage waits for the invited person: until they
// accept, they stay in the audience; they may decline, and the host may
// withdraw it.
func TestInvitationWaitsForTheInvited(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	host := enterMeeting(t, ctx, url, "standup", testclient.Options{Name: "Host"})
	defer host.Close()
	guest := dial(t, ctx, url, testclient.Options{Name: "Guest"})
	defer guest.Close()
	if err := guest.JoinKind(ctx, signal.KindMeeting, "standup", signal.RoleAudience); err != nil {
		t.Fatal(err)
	}
	if err := host.Move(guest.ID(), signal.RoleStage); err != nil {
		t.Fatal(err)
	}
	if err := guest.Wait(ctx, "the invitation", func() bool { return guest.Invitations() == 1 }); err != nil {
		t.Fatal(err)
	}
	if err := host.Wait(ctx, "the guest invited", func() bool {
		p, _ := host.Participant(guest.ID())
		return p.Invited && p.Role == signal.RoleAudience
	}); err != nil {
		t.Fatal(err)
	}
	if err := guest.Publish(ctx); err == nil {
		t.Fatal("the guest published before accepting")
	}
	// Declined, the invitation is gone: accepting it later does not work.
	if err := guest.Move(guest.ID(), signal.RoleAudience); err != nil {
		t.Fatal(err)
	}
	if err := host.Wait(ctx, "the invitation declined", func() bool {
		p, _ := host.Participant(guest.ID())
		return !p.Invited
	}); err != nil {
		t.Fatal(err)
	}
	// (The meeting is open: taking the stage without an invitation is a
	// join as stage, which it allows. The host withdraws an invitation by
	// moving the guest to the audience.)
	if err := host.Move(guest.ID(), signal.RoleStage); err != nil {
		t.Fatal(err)
	}
	if err := guest.Wait(ctx, "a second invitation", func() bool { return guest.Invitations() == 2 }); err != nil {
		t.Fatal(err)
	}
	if err := host.Move(guest.ID(), signal.RoleAudience); err != nil {
		t.Fatal(err)
	}
	if err := host.Wait(ctx, "the invitation withdrawn", func() bool {
		p, _ := host.Participant(guest.ID())
		return !p.Invited
	}); err != nil {
		t.Fatal(err)
	}
	if r := guest.Roles(); len(r) > 0 {
		t.Fatalf("the guest's role changed without accepting: %v", r)
	}
	inviteToStage(t, ctx, host, guest)
	if err := host.WaitFrom(ctx, guest.ID(), "video", 20); err != nil {
		t.Fatal(err)
	}
}

// A refused token says why, once, and a token must say which kind of room
// it opens.
func TestTokenRefusalsSayWhy(t *testing.T) {
	checkLeaks(t)
	secret := "s3cret"
	rooms := roomsFile(t, `{"rooms":[{"kind":"meeting","name":"team","stageToken":true,"audienceToken":true},
		{"kind":"broadcast","name":"team","stageToken":true,"audienceToken":true}]}`)
	m := runMeetd(t, Config{RoomsFile: rooms, TokenSecret: secret})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	sign := func(c access.Claims, ttl time.Duration) string {
		tok, err := access.Sign([]byte(secret), c, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tt := range []struct {
		token, kind, want string
	}{
		{sign(access.Claims{Kind: "meeting", Room: "team", Role: "stage"}, -time.Minute), "meeting", "it has expired"},
		{sign(access.Claims{Room: "team", Role: "stage"}, time.Hour), "meeting", "does not say whether it is for a meeting or a broadcast"},
		{sign(access.Claims{Room: "team", Role: "stage"}, time.Hour), "broadcast", "does not say whether it is for a meeting or a broadcast"},
		{sign(access.Claims{Kind: "meeting", Room: "team", Role: "stage"}, time.Hour), "broadcast", `for the meeting "team", not the broadcast "team"`},
	} {
		c := dial(t, ctx, url, testclient.Options{})
		_ = c.JoinWith(ctx, signal.Message{Kind: tt.kind, Room: "team", Role: signal.RoleStage, Token: tt.token})
		e := lastError(t, ctx, c, signal.CodeBadCredentials)
		if !strings.Contains(e.Message, tt.want) || strings.Count(e.Message, "not valid") != 1 {
			t.Errorf("refusal %q, want it to say %q once", e.Message, tt.want)
		}
		c.Close()
	}
}

// A meeting's audience costs what a broadcast's does: each member is sent
// the stage and itself, not everyone, and the stage hears of arrivals in
// the audience at most once a second.
func TestMeetingAudienceSeesTheStage(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	host := enterMeeting(t, ctx, url, "town-hall", testclient.Options{Name: "Host"})
	defer host.Close()
	start := time.Now()
	const n = 40
	audience := make([]*testclient.Client, n)
	for i := range audience {
		a := dial(t, ctx, url, testclient.Options{Name: "Listener"})
		defer a.Close()
		if err := a.JoinKind(ctx, signal.KindMeeting, "town-hall", signal.RoleAudience); err != nil {
			t.Fatal(err)
		}
		audience[i] = a
	}
	if err := host.Wait(ctx, "the whole audience listed", func() bool { return len(host.Participants()) == n+1 }); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	for i, a := range audience {
		if err := a.Wait(ctx, "the stage", func() bool {
			p, ok := a.Participant(host.ID())
			return ok && p.Host
		}); err != nil {
			t.Fatal(err)
		}
		if got := len(a.Participants()); got != 2 {
			t.Fatalf("audience member %d is sent %d participants, want the stage and itself", i, got)
		}
		if st, ok := a.LastState(); !ok || st.Viewers == nil {
			t.Fatalf("audience member %d has no audience count", i)
		}
	}
	// One list on joining, then at most one a second while the audience came.
	if lists, most := host.Lists(), 2+int(elapsed/time.Second)+1; lists > most {
		t.Fatalf("the host was sent %d lists while %d people arrived in %v; want at most %d", lists, n, elapsed, most)
	}
}

// Taking the stage with a password is a password attempt like a join's:
// wrong ones count against the client's address, and past the limit are
// refused without being checked.
func TestStagePasswordGuessesAreLimited(t *testing.T) {
	checkLeaks(t)
	rooms := roomsFile(t, `{"rooms":[{"kind":"meeting","name":"board","stagePassword":"{hash}"}]}`)
	m := runMeetd(t, Config{RoomsFile: rooms, Passwords: access.Limits{PerAddr: 2, Window: time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	eve := dial(t, ctx, "ws://"+m.Addr()+"/ws", testclient.Options{Name: "Eve"})
	defer eve.Close()
	if err := eve.JoinKind(ctx, signal.KindMeeting, "board", signal.RoleAudience); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := eve.TakeStage(fmt.Sprintf("guess %d", i), ""); err != nil {
			t.Fatal(err)
		}
		if err := eve.Wait(ctx, "a refusal", func() bool { return len(eve.Errors()) > i }); err != nil {
			t.Fatal(err)
		}
	}
	if err := eve.TakeStage("guess 2", ""); err != nil {
		t.Fatal(err)
	}
	e := lastError(t, ctx, eve, signal.CodeRateLimited)
	if !strings.Contains(e.Message, "wrong passwords") {
		t.Errorf("refusal %q, want words about wrong passwords", e.Message)
	}
	// Another address is not held back by Eve's guesses.
	ana := dialRaw(t, ctx, "ws://"+m.Addr()+"/ws", from("127.0.0.2", nil))
	joined := ana.joinAs(ctx, "board", signal.KindMeeting, signal.RoleAudience, "")
	data, _ := json.Marshal(signal.Message{Type: signal.TypeRole, ID: joined.ID, Role: signal.RoleStage, Password: "letmein"})
	ana.send(ctx, string(data))
	for {
		msg, err := ana.next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == signal.TypeError {
			t.Fatalf("the right password from another address: %+v", msg)
		}
		if msg.Type == signal.TypeRole && msg.Role == signal.RoleStage {
			break
		}
	}
}
