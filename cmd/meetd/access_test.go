package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/access"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

func TestRoomsNeedPasswordsAndTokens(t *testing.T) {
	checkLeaks(t)
	secret := "s3cret"
	rooms := roomsFile(t, `{"rooms":[
		{"kind":"meeting","name":"board","stagePassword":"{hash}","maxParticipants":2},
		{"name":"keynote","stageToken":true}]}`)
	m := runMeetd(t, Config{RoomsFile: rooms, TokenSecret: secret})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	try := func(join signal.Message) *rawConn {
		r := dialRaw(t, ctx, url, nil)
		data := `{"type":"join","room":"` + join.Room + `","kind":"` + join.Kind + `","role":"` + join.Role +
			`","password":"` + join.Password + `","token":"` + join.Token + `"}`
		r.send(ctx, data)
		return r
	}
	try(signal.Message{Room: "board", Kind: "meeting", Role: "stage"}).expectError(ctx, signal.CodeAuthRequired)
	try(signal.Message{Room: "board", Kind: "meeting", Role: "stage", Password: "guess"}).expectError(ctx, signal.CodeBadCredentials)
	for range 2 {
		ok := try(signal.Message{Room: "board", Kind: "meeting", Role: "stage", Password: "letmein"})
		if msg, err := ok.next(ctx); err != nil || msg.Type != signal.TypeJoined {
			t.Fatalf("right password: %+v %v", msg, err)
		}
	}
	try(signal.Message{Room: "board", Kind: "meeting", Role: "stage", Password: "letmein"}).expectError(ctx, signal.CodeRoomFull)

	// The keynote's stage takes a token; its audience is open.
	try(signal.Message{Room: "keynote", Kind: "broadcast", Role: "stage"}).expectError(ctx, signal.CodeAuthRequired)
	expired, _ := access.Sign([]byte(secret), access.Claims{Kind: "broadcast", Room: "keynote", Role: "stage"}, -time.Minute)
	r := try(signal.Message{Room: "keynote", Kind: "broadcast", Role: "stage", Token: expired})
	r.expectError(ctx, signal.CodeBadCredentials)
	audienceOnly, _ := access.Sign([]byte(secret), access.Claims{Kind: "broadcast", Room: "keynote", Role: "audience"}, time.Hour)
	try(signal.Message{Room: "keynote", Kind: "broadcast", Role: "stage", Token: audienceOnly}).expectError(ctx, signal.CodeBadCredentials)

	var tok strings.Builder
	err := makeToken([]string{"-room", "keynote", "-role", "stage", "-name", "Keynote speaker"}, nil, &tok,
		func(k string) string { return map[string]string{"MEETD_TOKEN_SECRET": secret}[k] })
	if err != nil {
		t.Fatal(err)
	}
	speaker := dial(t, ctx, url, testclient.Options{Name: "ignored"})
	defer speaker.Close()
	if err := speaker.JoinWith(ctx, signal.Message{Room: "keynote", Role: "stage", Token: strings.TrimSpace(tok.String())}); err != nil {
		t.Fatal(err)
	}
	if err := speaker.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	viewer := dial(t, ctx, url, testclient.Options{})
	defer viewer.Close()
	join(t, ctx, viewer, "keynote", signal.RoleAudience)
	waitMedia(t, ctx, "keynote viewer", viewer)
	if err := viewer.Wait(ctx, "the speaker's name from the token", func() bool {
		p, _ := viewer.Participant(speaker.ID())
		return p.Name == "Keynote speaker"
	}); err != nil {
		t.Fatal(err)
	}
	hashOut := &strings.Builder{}
	if err := hashPassword(nil, strings.NewReader("pw\n"), hashOut, nil); err != nil || !strings.HasPrefix(hashOut.String(), "$2") {
		t.Fatalf("hash-password: %q %v", hashOut, err)
	}
}
