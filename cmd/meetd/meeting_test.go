package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/sfu"
	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

func TestMeetingOfFour(t *testing.T) {
	checkLeaks(t)
	m := runMeetd(t, Config{})
	url := "ws://" + m.Addr() + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	names := []string{"Ana", "Ben", "Cy", "Di"}
	// Ben speaks loudest, Ana is quiet, the others are silent.
	levels := []uint8{50, 20, 127, 127}
	var clients []*testclient.Client
	for i, n := range names {
		// Cy's client goes on writing the screen's RTP after it stops
		// sharing: meetd must forward none of it.
		c := joinMeeting(t, ctx, url, "standup", testclient.Options{Name: n, AudioLevel: levels[i], KeepScreenRTP: n == "Cy"})
		defer c.Close()
		clients = append(clients, c)
	}
	waitAllMedia(t, ctx, clients, names, nil)

	ana, ben, cy, di := clients[0], clients[1], clients[2], clients[3]
	for _, c := range clients {
		err := c.Wait(ctx, "Ben as the active speaker", func() bool { return c.Speaker() == ben.ID() })
		if err != nil {
			t.Fatalf("speaker %q: %v", c.Speaker(), err)
		}
		err = c.Wait(ctx, "four on stage with Ana hosting", func() bool {
			p := c.Participants()
			return len(p) == 4 && p[0].ID == ana.ID() && p[0].Host && p[1].Name == "Ben" && p[1].Audio && p[1].Video
		})
		if err != nil {
			t.Fatalf("%v: %+v", err, c.Participants())
		}
	}

	// Cy shares a screen: everyone else receives it, then it stops.
	if err := cy.StartScreen(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cy.SendMedia(true, true, testclient.ScreenStream); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testclient.Client{ana, ben, di} {
		if err := c.WaitFrom(ctx, cy.ID(), "screen", 20); err != nil {
			t.Fatal(err)
		}
		if err := c.Wait(ctx, "Cy's screen announced", func() bool {
			p, _ := c.Participant(cy.ID())
			return p.Screen == testclient.ScreenStream
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cy.StopScreen(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cy.SendMedia(true, false, ""); err != nil {
		t.Fatal(err)
	}
	checkScreenGone(t, ctx, m, "standup", cy, []*testclient.Client{ana, ben, di})

	// Chat, then Di leaves and rejoins: she sees the history, and everyone
	// receives her again.
	for i, text := range []string{"hello", "can you hear me?", "yes"} {
		if err := clients[i].SendChat(text); err != nil {
			t.Fatal(err)
		}
		if err := di.Wait(ctx, "chat", func() bool { return len(di.Chat()) == i+1 }); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range di.Chat() {
		if m.History {
			t.Errorf("a message sent while Di was there came as history: %+v", m)
		}
	}
	di.Close()
	for _, c := range []*testclient.Client{ana, ben, cy} {
		if err := c.Wait(ctx, "Di gone", func() bool { return len(c.Participants()) == 3 }); err != nil {
			t.Fatal(err)
		}
	}
	di = joinMeeting(t, ctx, url, "standup", testclient.Options{Name: "Di"})
	defer di.Close()
	clients[3] = di
	if err := di.Wait(ctx, "chat history", func() bool { return len(di.Chat()) == 3 }); err != nil {
		t.Fatal(err)
	}
	chat := di.Chat()
	if chat[0].Text != "hello" || chat[0].Name != "Ana" || !chat[2].History || chat[1].Time == "" {
		t.Errorf("history: %+v", chat)
	}
	waitAllMedia(t, ctx, clients, names, counts(clients))
	if errs := append(ana.Errors(), di.Errors()...); len(errs) > 0 {
		t.Errorf("errors: %+v", errs)
	}
}

// checkScreenGone checks that meetd took the screen share of sharer off
// the stage of meeting room: the room's tracks no longer have it, every
// viewer's subscribe connection was renegotiated without it, the
// participants list says there is no screen, and none of the screen's
// packets the sharer may still write is forwarded to any viewer.
func checkScreenGone(t *testing.T, ctx context.Context, m *Main, roomName string, sharer *testclient.Client, viewers []*testclient.Client) {
	t.Helper()
	stream := sharer.ID() + "_" + testclient.ScreenStream
	waitUntil(t, ctx, "the screen off the room's stage", func() bool {
		for _, p := range m.rooms.Get(room.Meeting, roomName).Snapshot().Tracks {
			if p.Track.(*sfu.Track).StreamID() == stream {
				return false
			}
		}
		return true
	})
	for _, v := range viewers {
		if err := v.Wait(ctx, "the subscribe connection renegotiated without the screen", func() bool {
			return !slices.Contains(v.SubscribedStreams(), stream)
		}); err != nil {
			t.Fatalf("%v (streams %v)", err, v.SubscribedStreams())
		}
		if err := v.Wait(ctx, "no screen in the participants list", func() bool {
			p, _ := v.Participant(sharer.ID())
			return p.Screen == ""
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The viewers' screen tracks have ended: from here on a screen packet
	// could only come on a new track. The camera's packets, written by the
	// sharer along with each screen packet, show how far meetd got.
	screen := make([]int, len(viewers))
	camera := make([]int, len(viewers))
	for i, v := range viewers {
		screen[i], camera[i] = v.From(sharer.ID(), "screen"), v.From(sharer.ID(), "video")
	}
	sent := sharer.ScreenPacketsSent()
	for i, v := range viewers {
		if err := v.WaitFrom(ctx, sharer.ID(), "video", camera[i]+60); err != nil {
			t.Fatal(err)
		}
		if n := v.From(sharer.ID(), "screen"); n != screen[i] {
			t.Errorf("viewer %d got %d screen packets after the share stopped", i, n-screen[i])
		}
	}
	if n := sharer.ScreenPacketsSent() - sent; n == 0 {
		t.Error("the sharer wrote no screen packets meanwhile: nothing was shown to be dropped")
	}
}

func TestStageInvitation(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	streamer := dial(t, ctx, url, testclient.Options{Name: "Host"})
	defer streamer.Close()
	join(t, ctx, streamer, "talk", signal.RoleStage)
	if err := streamer.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	guest := dial(t, ctx, url, testclient.Options{Name: "Guest"})
	defer guest.Close()
	join(t, ctx, guest, "talk", signal.RoleAudience)
	viewer := dial(t, ctx, url, testclient.Options{Name: "Viewer"})
	defer viewer.Close()
	join(t, ctx, viewer, "talk", signal.RoleAudience)

	// Uninvited, the guest may not publish; the viewer may not invite.
	if err := guest.Publish(ctx); err == nil {
		t.Fatal("an audience member published without an invitation")
	}
	if err := guest.WaitError(ctx, signal.CodeNotAllowed); err != nil {
		t.Fatal(err)
	}
	if err := viewer.Move(guest.ID(), signal.RoleStage); err != nil {
		t.Fatal(err)
	}
	if err := viewer.WaitError(ctx, signal.CodeNotHost); err != nil {
		t.Fatal(err)
	}

	// Invited, the guest publishes and everyone sees them.
	inviteToStage(t, ctx, streamer, guest)
	for _, c := range []*testclient.Client{streamer, viewer} {
		if err := c.WaitFrom(ctx, guest.ID(), "video", 20); err != nil {
			t.Fatal(err)
		}
	}
	if err := viewer.WaitFrom(ctx, streamer.ID(), "video", 20); err != nil {
		t.Fatal(err)
	}

	// Sent back, the guest stops publishing.
	if err := streamer.Move(guest.ID(), signal.RoleAudience); err != nil {
		t.Fatal(err)
	}
	if err := viewer.Wait(ctx, "the guest off stage", func() bool {
		p, ok := viewer.Participant(guest.ID())
		return !ok || p.Role == signal.RoleAudience
	}); err != nil {
		t.Fatal(err)
	}
	// Once meetd renegotiated the viewer's connection without the guest's
	// tracks, their packets could only come on new tracks: none may,
	// while the streamer's video goes on.
	guestStream := guest.ID() + "_" + testclient.CameraStream
	if err := viewer.Wait(ctx, "the guest's tracks off the viewer's connection", func() bool {
		return !slices.Contains(viewer.SubscribedStreams(), guestStream)
	}); err != nil {
		t.Fatal(err)
	}
	n := viewer.From(guest.ID(), "video")
	before := viewer.From(streamer.ID(), "video")
	if err := viewer.WaitFrom(ctx, streamer.ID(), "video", before+30); err != nil {
		t.Fatal(err)
	}
	if m := viewer.From(guest.ID(), "video"); m != n {
		t.Errorf("the guest's video still arrives after being sent back: %d then %d", n, m)
	}
}

func TestMeetingKeepsTheSubscribeConnection(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ana := joinMeeting(t, ctx, url, "pair", testclient.Options{Name: "Ana"})
	defer ana.Close()
	for round := range 2 {
		ben := joinMeeting(t, ctx, url, "pair", testclient.Options{Name: "Ben"})
		if err := ana.WaitFrom(ctx, ben.ID(), "video", 20); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		ben.Close()
		if err := ana.Wait(ctx, "Ben gone", func() bool { return len(ana.Participants()) == 1 }); err != nil {
			t.Fatal(err)
		}
	}
	// Alone in the meeting, Ana kept one subscribe connection, renegotiated
	// as Ben came and went.
	if n := ana.SubscribeConnections(); n != 1 {
		t.Errorf("Ana got %d subscribe connections, want 1", n)
	}
}
