package main

// The rooms file's rules, for a room across the nodes of a cluster.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meetd/meetd/internal/signal"
	"github.com/meetd/meetd/internal/testclient"
)

// A meeting of at most 2 participants behind a stage password, in the
// rooms file both nodes have: one participant on each node fills it, so a
// third is refused on either node, saying the room is full; a wrong
// password is refused on either node too. Once one leaves, a third gets
// in.
func TestClusterMaxParticipants(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rooms := roomsFile(t, `{"rooms":[{"kind":"meeting","name":"board","stagePassword":"{hash}","maxParticipants":2}]}`)
	_, url := startNATS(t)
	var urls []string
	var nodes []*Main
	for range 2 {
		m := runMeetd(t, Config{RoomsFile: rooms, Cluster: ClusterConfig{NATS: []string{url}}})
		nodes, urls = append(nodes, m), append(urls, "ws://"+m.Addr()+"/ws")
	}
	waitNodes(t, ctx, nodes...)

	try := func(url, name, password string) *testclient.Client {
		c := dial(t, ctx, url, testclient.Options{Name: name})
		t.Cleanup(c.Close)
		if err := c.JoinWith(ctx, signal.Message{Kind: signal.KindMeeting, Room: "board", Role: signal.RoleStage, Password: password}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	ana := try(urls[0], "Ana", "letmein")
	ben := try(urls[1], "Ben", "letmein")
	for _, c := range []*testclient.Client{ana, ben} {
		if errs := c.Errors(); len(errs) > 0 {
			t.Fatalf("%+v", errs)
		}
	}
	for _, c := range []*testclient.Client{ana, ben} {
		if err := c.Wait(ctx, "both in the list", func() bool { return len(c.Participants()) == 2 }); err != nil {
			t.Fatalf("%v: %+v", err, c.Participants())
		}
	}
	for i, url := range urls {
		if wrong := try(url, "Eve", "guess"); !hasError(wrong, signal.CodeBadCredentials, "") {
			t.Errorf("a wrong password on node %d: %+v", i, wrong.Errors())
		}
		if third := try(url, "Cy", "letmein"); !hasError(third, signal.CodeRoomFull, "2 participants") {
			t.Errorf("a third participant on node %d: %+v, want room_full saying the room has its 2", i, third.Errors())
		}
	}

	ben.Close()
	if err := ana.Wait(ctx, "Ben gone", func() bool { return len(ana.Participants()) == 1 }); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "a third participant let in on node B once Ben left", func() bool {
		c := try(urls[1], "Cy", "letmein")
		defer c.Close()
		return c.ID() != "" && len(c.Errors()) == 0
	})
}

// hasError says whether c got an error with code whose message contains
// text.
func hasError(c *testclient.Client, code, text string) bool {
	for _, e := range c.Errors() {
		if e.Code == code && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}
