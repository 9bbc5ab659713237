package room

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pion/webrtc/v4"
)

type member struct {
	id       string
	notified atomic.Int32
}

func (m *member) ID() string { return m.id }
func (m *member) Notify()    { m.notified.Add(1) }

func newDir() *Directory {
	return NewDirectory(slog.New(slog.NewTextHandler(io.Discard, nil)), Limits{})
}

func TestBroadcastHasOneStreamer(t *testing.T) {
	d := newDir()
	streamer, other, viewer := &member{id: "s"}, &member{id: "o"}, &member{id: "v"}
	r, err := d.Join(Broadcast, "show", streamer, Stage, "Sam", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join(Broadcast, "show", other, Stage, "", 0); !errors.Is(err, ErrAlreadyLive) {
		t.Fatalf("second streamer: %v, want ErrAlreadyLive", err)
	}
	if _, err := d.Join(Broadcast, "show", viewer, Audience, "", 0); err != nil {
		t.Fatal(err)
	}
	if err := r.SetRole(viewer, Stage); !errors.Is(err, ErrAlreadyLive) {
		t.Fatalf("viewer to stage: %v, want ErrAlreadyLive", err)
	}
	d.Leave(r, streamer)
	if err := r.SetRole(viewer, Stage); err != nil {
		t.Fatalf("viewer to the empty stage: %v", err)
	}
}

func TestSnapshotCountsAudienceAndTracks(t *testing.T) {
	d := newDir()
	s, v1, v2 := &member{id: "s"}, &member{id: "v1"}, &member{id: "v2"}
	r, _ := d.Join(Broadcast, "r", s, Stage, "", 0)
	for _, v := range []*member{v1, v2} {
		if _, err := d.Join(Broadcast, "r", v, Audience, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	snap := r.Snapshot()
	if snap.Live || snap.Viewers != 2 || len(snap.Tracks) != 0 {
		t.Fatalf("before publishing: %+v", snap)
	}
	tracks := []Track{&testTrack{}, &testTrack{}}
	if err := r.Publish(s, tracks); err != nil {
		t.Fatal(err)
	}
	if err := r.Publish(v1, tracks); err == nil {
		t.Fatal("the audience published")
	}
	snap = r.Snapshot()
	if !snap.Live || snap.Viewers != 2 || len(snap.Tracks) != 2 || snap.Tracks[0].Publisher != "s" {
		t.Fatalf("live: %+v", snap)
	}
	before := v1.notified.Load()
	d.Leave(r, v2)
	waitFor(t, "members to be told that someone left", func() bool { return v1.notified.Load() != before })
	if got := r.Snapshot().Viewers; got != 1 {
		t.Errorf("viewers after one left: %d", got)
	}
	if err := r.Publish(s, nil); err != nil {
		t.Fatal(err)
	}
	if r.Snapshot().Live {
		t.Error("live after the stage stopped publishing")
	}
}

func TestDirectoryDropsEmptyRooms(t *testing.T) {
	d := newDir()
	a, b := &member{id: "a"}, &member{id: "b"}
	r, _ := d.Join(Broadcast, "x", a, Audience, "", 0)
	if _, err := d.Join(Broadcast, "x", b, Audience, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join(Broadcast, "x", b, Audience, "", 0); err == nil {
		t.Error("joined the same room twice")
	}
	d.Leave(r, a)
	if d.Get(Broadcast, "x") != r {
		t.Fatal("room dropped while someone is in it")
	}
	d.Leave(r, b)
	if d.Get(Broadcast, "x") != nil || len(d.Names(Broadcast)) != 0 {
		t.Fatalf("empty room kept: %v", d.Names(Broadcast))
	}
	// A failed first join leaves no room behind.
	if _, err := d.Join(Broadcast, "y", a, Stage, "", 0); err != nil {
		t.Fatal(err)
	}
	d.Leave(d.Get(Broadcast, "y"), a)
	if d.Get(Broadcast, "y") != nil {
		t.Fatal("room kept")
	}
}

func TestMeetingHostsAndRoles(t *testing.T) {
	d := newDir()
	a, b, c := &member{id: "a"}, &member{id: "b"}, &member{id: "c"}
	r, err := d.Join(Meeting, "m", a, Stage, "Ana", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join(Meeting, "m", b, Stage, "Ben", 0); err != nil {
		t.Fatalf("a meeting takes many on stage: %v", err)
	}
	if _, err := d.Join(Meeting, "m", c, Audience, "Cy", 0); err != nil {
		t.Fatal(err)
	}
	if d.Get(Broadcast, "m") != nil {
		t.Fatal("a meeting is listed as a broadcast")
	}
	host := func() string {
		for _, p := range r.Snapshot().Participants {
			if p.Host {
				return p.ID
			}
		}
		return ""
	}
	if host() != "a" {
		t.Fatalf("host %q, want the first to join", host())
	}
	if err := r.Move(b, "c", Stage); !errors.Is(err, ErrNotHost) {
		t.Fatalf("a guest moved someone: %v", err)
	}
	if err := r.Move(a, "nobody", Stage); !errors.Is(err, ErrNotMember) {
		t.Fatalf("moved a stranger: %v", err)
	}
	if err := r.SetMedia(b, true, false, "screen-1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Publish(b, []Track{&testTrack{}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Move(a, "b", Audience); err != nil {
		t.Fatal(err)
	}
	snap := r.Snapshot()
	if len(snap.Tracks) != 0 || snap.Participants[1].Role != Audience || snap.Participants[1].Screen != "" {
		t.Fatalf("moved to the audience, still publishing: %+v", snap)
	}
	if err := r.Move(a, "c", Stage); err != nil {
		t.Fatal(err)
	}
	if err := r.Accept(c); err != nil {
		t.Fatal(err)
	}
	d.Leave(r, a)
	if host() != "c" {
		t.Fatalf("host after the host left: %q, want the earliest on stage", host())
	}
}

func TestBroadcastInvitation(t *testing.T) {
	d := newDir()
	viewer, streamer, guest := &member{id: "v"}, &member{id: "s"}, &member{id: "g"}
	r, _ := d.Join(Broadcast, "b", viewer, Audience, "", 0)
	if _, err := d.Join(Broadcast, "b", streamer, Stage, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join(Broadcast, "b", guest, Audience, "", 0); err != nil {
		t.Fatal(err)
	}
	if p := r.Snapshot().Participants; p[0].Host || !p[1].Host {
		t.Fatalf("the streamer hosts a broadcast, not its first viewer: %+v", p)
	}
	if err := r.SetRole(guest, Stage); !errors.Is(err, ErrAlreadyLive) {
		t.Fatalf("a viewer took the stage uninvited: %v", err)
	}
	if err := r.Move(streamer, "g", Stage); err != nil {
		t.Fatalf("invitation: %v", err)
	}
	if err := r.Move(guest, "v", Audience); !errors.Is(err, ErrNotHost) {
		t.Fatalf("a guest moved another: %v", err)
	}
	if err := r.Move(guest, "g", Audience); err != nil {
		t.Fatalf("declining: %v", err)
	}
	if err := r.Move(guest, "g", Stage); !errors.Is(err, ErrNotHost) {
		t.Fatalf("a guest invited themselves back: %v", err)
	}
	if err := r.Move(streamer, "g", Stage); err != nil {
		t.Fatal(err)
	}
	if p := r.Snapshot().Participants; p[2].Role != Audience || !p[2].Invited {
		t.Fatalf("an invitation put the guest on stage before they accepted: %+v", p)
	}
	if err := r.Accept(viewer); !errors.Is(err, ErrNotInvited) {
		t.Fatalf("an uninvited viewer accepted: %v", err)
	}
	if err := r.Accept(guest); err != nil {
		t.Fatal(err)
	}
	if p := r.Snapshot().Participants; p[2].Role != Stage || p[2].Invited {
		t.Fatalf("the invited guest is not on stage: %+v", p)
	}
}

// Only the stage hosts: an audience member is never host, however the
// room came to be, and cannot put itself on stage.
func TestAudienceNeverHosts(t *testing.T) {
	d := newDir()
	aud, ana, ben := &member{id: "aud"}, &member{id: "ana"}, &member{id: "ben"}
	r, _ := d.Join(Meeting, "m", aud, Audience, "", 0)
	host := func() string {
		for _, p := range r.Snapshot().Participants {
			if p.Host {
				return p.ID
			}
		}
		return ""
	}
	if h := host(); h != "" {
		t.Fatalf("the first member, in the audience, hosts: %q", h)
	}
	if err := r.Move(aud, "aud", Stage); !errors.Is(err, ErrNotHost) {
		t.Fatalf("an audience member moved itself to the stage: %v", err)
	}
	if err := r.Accept(aud); !errors.Is(err, ErrNotInvited) {
		t.Fatalf("an audience member accepted an invitation nobody made: %v", err)
	}
	if _, err := d.Join(Meeting, "m", ana, Stage, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join(Meeting, "m", ben, Stage, "", 0); err != nil {
		t.Fatal(err)
	}
	if h := host(); h != "ana" {
		t.Fatalf("host %q, want the first on stage", h)
	}
	// The host who leaves the stage hands over to the next one on it.
	if err := r.Move(ana, "ana", Audience); err != nil {
		t.Fatal(err)
	}
	if h := host(); h != "ben" {
		t.Fatalf("host %q after the host left the stage, want ben", h)
	}
	if err := r.Move(ana, "ana", Stage); !errors.Is(err, ErrNotHost) {
		t.Fatalf("the former host put itself back on stage: %v", err)
	}
	// With the stage empty, nobody hosts; the audience inherits nothing.
	d.Leave(r, ben)
	if h := host(); h != "" {
		t.Fatalf("host %q with an empty stage", h)
	}
	for _, m := range []*member{aud, ana} {
		if err := r.Move(m, m.id, Stage); !errors.Is(err, ErrNotHost) {
			t.Fatalf("%s moved itself to the stage: %v", m.id, err)
		}
		if err := r.Publish(m, []Track{&testTrack{}}); err == nil {
			t.Fatalf("%s published from the audience", m.id)
		}
	}
}

func TestChatKeepsTheLastHundred(t *testing.T) {
	d := newDir()
	a := &member{id: "a"}
	r, _ := d.Join(Meeting, "chat", a, Stage, "Ana", 0)
	for i := range ChatHistory + 20 {
		if err := r.Chat(a, strings.Repeat("x", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	all := r.ChatSince(0)
	if len(all) != ChatHistory || len(all[0].Text) != 21 || all[0].Name != "Ana" {
		t.Fatalf("history: %d messages, first %q", len(all), all[0].Text)
	}
	if last := r.ChatSince(all[len(all)-2].Seq); len(last) != 1 || last[0].Seq != r.Snapshot().ChatSeq {
		t.Fatalf("since the one before last: %+v", last)
	}
}

func TestLimits(t *testing.T) {
	d := NewDirectory(slog.New(slog.NewTextHandler(io.Discard, nil)), Limits{MaxRooms: 1, MaxParticipants: 2})
	a, b, c := &member{id: "a"}, &member{id: "b"}, &member{id: "c"}
	if _, err := d.Join(Meeting, "one", a, Stage, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join(Meeting, "two", b, Stage, "", 0); !errors.Is(err, ErrServerFull) {
		t.Fatalf("second room: %v", err)
	}
	if _, err := d.Join(Meeting, "one", b, Stage, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join(Meeting, "one", c, Audience, "", 0); !errors.Is(err, ErrRoomFull) {
		t.Fatalf("third member: %v", err)
	}
	if _, err := d.Join(Meeting, "one", c, Audience, "", 3); err != nil {
		t.Fatalf("a room's own limit: %v", err)
	}
}

// TestSnapshotIsMadeOncePerChange: members that take a snapshot between
// two changes share one, and every kind of change shows in the next.
func TestSnapshotIsMadeOncePerChange(t *testing.T) {
	d := newDir()
	h, g := &member{id: "h"}, &member{id: "g"}
	r, _ := d.Join(Meeting, "m", h, Stage, "Host", 0)
	if _, err := d.Join(Meeting, "m", g, Audience, "Guest", 0); err != nil {
		t.Fatal(err)
	}
	a, b := r.Snapshot(), r.Snapshot()
	if &a.Participants[0] != &b.Participants[0] {
		t.Error("two snapshots without a change between them were made twice")
	}
	find := func(s Snapshot, id string) Participant {
		for _, p := range s.Participants {
			if p.ID == id {
				return p
			}
		}
		return Participant{}
	}
	steps := []struct {
		name   string
		change func() error
		shows  func(Snapshot) bool
	}{
		{"media", func() error { return r.SetMedia(h, true, true, "") },
			func(s Snapshot) bool { return find(s, "h").Video }},
		{"chat", func() error { return r.Chat(h, "hi") },
			func(s Snapshot) bool { return s.ChatSeq == 1 }},
		{"role", func() error { return r.SetRole(g, Stage) },
			func(s Snapshot) bool { return find(s, "g").Role == Stage }},
		{"moved", func() error { return r.Move(h, "g", Audience) },
			func(s Snapshot) bool { return find(s, "g").Role == Audience }},
		{"publish", func() error { return r.Publish(h, []Track{&testTrack{}}) },
			func(s Snapshot) bool { return s.Live }},
		{"leave", func() error { d.Leave(r, g); return nil },
			func(s Snapshot) bool { return len(s.Participants) == 1 }},
	}
	for _, st := range steps {
		_ = r.Snapshot()
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !st.shows(r.Snapshot()) {
			t.Errorf("the snapshot after %s does not show it", st.name)
		}
	}
}

// Chat history is bounded in bytes, per room and for all rooms, and the
// newest message is always kept so that it reaches the room.
func TestChatHistoryIsBoundedInBytes(t *testing.T) {
	big := strings.Repeat("한", 1000) // 3,000 bytes
	size := chatSize(ChatMessage{Text: big, Name: "Ana"})
	d := NewDirectory(slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limits{ChatBytes: int(10 * size), ChatTotal: int(25 * size)})
	a, b, c := &member{id: "a"}, &member{id: "b"}, &member{id: "c"}
	ra, _ := d.Join(Meeting, "one", a, Stage, "Ana", 0)
	rb, _ := d.Join(Meeting, "two", b, Stage, "Ana", 0)
	rc, _ := d.Join(Meeting, "three", c, Stage, "Ana", 0)
	for range 50 {
		for _, x := range []struct {
			r *Room
			m *member
		}{{ra, a}, {rb, b}} {
			if err := x.r.Chat(x.m, big); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(ra.ChatSince(0)); n != 10 {
		t.Fatalf("room one keeps %d messages, want the last 10 that fit its bytes", n)
	}
	if used := d.ChatBytes(); used != 20*size {
		t.Fatalf("all rooms hold %d bytes, want %d", used, 20*size)
	}
	// A third room fills what is left of the total, then drops its own.
	for range 20 {
		if err := rc.Chat(c, big); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rc.ChatSince(0)); n != 5 {
		t.Fatalf("room three keeps %d messages, want the 5 left in the total", n)
	}
	if used := d.ChatBytes(); used > 25*size {
		t.Fatalf("all rooms hold %d bytes, over the total %d", used, 25*size)
	}
	last := rc.ChatSince(0)
	if last[len(last)-1].Seq != rc.Snapshot().ChatSeq {
		t.Fatal("the newest message was not kept")
	}
	d.Leave(rc, c)
	d.Leave(rb, b)
	d.Leave(ra, a)
	if used := d.ChatBytes(); used != 0 {
		t.Fatalf("closed rooms still hold %d bytes", used)
	}
}

// testTrack is a published video track of the tests.
type testTrack struct{ level uint8 }

func (*testTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeVideo }
func (t *testTrack) TakeAudioLevel() uint8   { return t.level }
