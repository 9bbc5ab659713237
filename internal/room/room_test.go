package room

import (
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/meetd/meetd/internal/sfu"
)

type member struct {
	id       string
	notified atomic.Int32
}

func (m *member) ID() string { return m.id }
func (m *member) Notify()    { m.notified.Add(1) }

func newDir() *Directory { return NewDirectory(slog.New(slog.NewTextHandler(io.Discard, nil))) }

func TestBroadcastHasOneStreamer(t *testing.T) {
	d := newDir()
	streamer, other, viewer := &member{id: "s"}, &member{id: "o"}, &member{id: "v"}
	r, err := d.Join("show", streamer, Stage, "Sam")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join("show", other, Stage, ""); !errors.Is(err, ErrAlreadyLive) {
		t.Fatalf("second streamer: %v, want ErrAlreadyLive", err)
	}
	if _, err := d.Join("show", viewer, Audience, ""); err != nil {
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
	r, _ := d.Join("r", s, Stage, "")
	for _, v := range []*member{v1, v2} {
		if _, err := d.Join("r", v, Audience, ""); err != nil {
			t.Fatal(err)
		}
	}
	snap := r.Snapshot()
	if snap.Live || snap.Viewers != 2 || len(snap.Tracks) != 0 {
		t.Fatalf("before publishing: %+v", snap)
	}
	tracks := []*sfu.Track{{}, {}}
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
	if v1.notified.Load() == before {
		t.Error("members were not told that someone left")
	}
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
	r, _ := d.Join("x", a, Audience, "")
	if _, err := d.Join("x", b, Audience, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join("x", b, Audience, ""); err == nil {
		t.Error("joined the same room twice")
	}
	d.Leave(r, a)
	if d.Get("x") != r {
		t.Fatal("room dropped while someone is in it")
	}
	d.Leave(r, b)
	if d.Get("x") != nil || len(d.Names()) != 0 {
		t.Fatalf("empty room kept: %v", d.Names())
	}
	// A failed first join leaves no room behind.
	if _, err := d.Join("y", a, Stage, ""); err != nil {
		t.Fatal(err)
	}
	d.Leave(d.Get("y"), a)
	if d.Get("y") != nil {
		t.Fatal("room kept")
	}
}
