package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// dialStalled joins room as a participant whose tab then stops: it reads
// nothing after joined, and its socket's receive buffer is small, so what
// meetd writes to it backs up at once. It returns the participant's id.
func dialStalled(t *testing.T, ctx context.Context, url, room string) string {
	t.Helper()
	small := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: small.DialContext}}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	join, _ := json.Marshal(signal.Message{Type: signal.TypeJoin, Kind: signal.KindMeeting, Room: room,
		Role: signal.RoleStage, Name: "Stalled"})
	if err := ws.Write(ctx, websocket.MessageText, join); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m signal.Message
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if m.Type == signal.TypeJoined {
			return m.ID
		}
		if m.Type == signal.TypeError {
			t.Fatalf("join: %+v", m)
		}
	}
}

// stalledChatBound is the longest a round of chat may take to reach Ben
// in TestStalledClientDelaysNoOne: well under the 10 s a write to the
// stalled socket may block for, well over the 3.5 s the slowest round
// took on a 2-core machine busy with stress-ng.
const stalledChatBound = 6 * time.Second

// A participant that stops reading its WebSocket (a frozen tab, a dead
// network) fills the queue meetd keeps for it; meetd drops it then, and
// the others' chat and media go on undelayed all along.
func TestStalledClientDelaysNoOne(t *testing.T) {
	checkLeaks(t)
	url := startMeetd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	ann := joinMeeting(t, ctx, url, "stall", testclient.Options{Name: "Ann"})
	defer ann.Close()
	ben := enterMeeting(t, ctx, url, "stall", testclient.Options{Name: "Ben"})
	defer ben.Close()
	waitMedia(t, ctx, "Ben", ben)

	stalled := dialStalled(t, ctx, url, "stall")
	present := func() bool {
		return slices.ContainsFunc(ben.Participants(), func(p signal.Participant) bool { return p.ID == stalled })
	}
	if err := ben.Wait(ctx, "the stalled participant", present); err != nil {
		t.Fatal(err)
	}

	// Chatters fill the chat with long messages, each within the chat rate
	// limit, until meetd drops the stalled participant.
	var chatters []*testclient.Client
	for range 13 { // the meeting's 16 places, with Ann, Ben and the stalled one
		c := enterMeeting(t, ctx, url, "stall", testclient.Options{Name: "Chatter"})
		defer c.Close()
		chatters = append(chatters, c)
	}
	text := strings.Repeat("漢", signal.MaxChatText)
	sent := 0
	video0, annSent0 := ben.Stats(webrtc.RTPCodecTypeVideo).Packets, ann.VideoPacketsSent()
	var worst time.Duration
	start := time.Now()
	for round := 0; present(); round++ {
		if round == 200 {
			t.Fatalf("the stalled participant is still in the meeting after %d chat messages", sent)
		}
		at := time.Now()
		for _, c := range chatters {
			if err := c.SendChat(text); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		want := sent
		if err := ben.Wait(ctx, "chat", func() bool { return len(ben.Chat()) >= want }); err != nil {
			t.Fatalf("Ben got %d of %d chat messages: %v", len(ben.Chat()), want, err)
		}
		worst = max(worst, time.Since(at))
		time.Sleep(time.Until(at.Add(250 * time.Millisecond)))
	}
	stalledFor := time.Since(start)
	video1, annSent1 := ben.Stats(webrtc.RTPCodecTypeVideo).Packets, ann.VideoPacketsSent()
	t.Logf("dropped after %d chat messages in %v; Ben got each round within %v; %d of Ann's %d video packets meanwhile",
		sent, stalledFor.Round(time.Millisecond), worst.Round(time.Millisecond), video1-video0, annSent1-annSent0)
	// Were meetd to wait for the stalled participant, a round of chat
	// would wait up to the write timeout of its socket (10 s), and Ann's
	// video with it.
	if worst > stalledChatBound {
		t.Errorf("a round of chat took %v to reach Ben while a participant was stalled, want at most %v", worst, stalledChatBound)
	}
	// Ben gets what Ann sends, less what a read loop waiting for the
	// stalled participant would have dropped.
	if got, sentMeanwhile := int64(video1-video0), annSent1-annSent0; got < sentMeanwhile/2 {
		t.Errorf("Ben got %d of the %d video packets Ann sent while a participant was stalled", got, sentMeanwhile)
	}

	// Everyone else is still there, and still gets Ann's video.
	if n := len(ben.Participants()); n != 15 {
		t.Errorf("Ben sees %d participants, want 15", n)
	}
	if err := ben.WaitMedia(ctx, 0, video1+30); err != nil {
		t.Fatal(err)
	}
	expectNoLoss(t, "Ben", ben)
	for _, c := range append(chatters, ann, ben) {
		if errs := c.Errors(); len(errs) > 0 {
			t.Errorf("%+v", errs)
		}
	}
}
