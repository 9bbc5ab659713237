package room

import (
	"errors"
	"testing"
)

// TestOpenerCountsRoomsUntilTheyClose checks that the opener is asked only
// when a join opens a room, and told once that room has closed, however it
// closes.
func TestOpenerCountsRoomsUntilTheyClose(t *testing.T) {
	d := newDir()
	errOver := errors.New("over")
	open := map[string]int{} // rooms each member has open
	d.SetOpener(func(m Member) (func(), error) {
		if open[m.ID()] >= 1 {
			return nil, errOver
		}
		open[m.ID()]++
		return func() { open[m.ID()]-- }, nil
	})
	a, a2, b := &member{id: "a"}, &member{id: "a2"}, &member{id: "b"}
	r, err := d.Join(Meeting, "one", a, Stage, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join(Meeting, "two", a, Stage, "", 0); !errors.Is(err, errOver) {
		t.Fatalf("a second room: %v, want the opener's refusal", err)
	}
	if d.Get(Meeting, "two") != nil {
		t.Fatal("a refused room exists")
	}
	// Joining a room that exists opens nothing.
	if _, err := d.Join(Meeting, "one", b, Stage, "", 0); err != nil {
		t.Fatal(err)
	}
	// The room stays a's until it closes, whoever is left in it.
	d.Leave(r, a)
	if open["a"] != 1 {
		t.Fatalf("a has %d rooms open after leaving one still open", open["a"])
	}
	d.Leave(r, b)
	if open["a"] != 0 {
		t.Fatalf("a has %d rooms open after its room closed", open["a"])
	}
	if _, err := d.Join(Meeting, "two", a, Stage, "", 0); err != nil {
		t.Fatalf("after the first room closed: %v", err)
	}
	if _, err := d.Join(Broadcast, "three", a2, Stage, "", 0); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if open["a"] != 0 || open["a2"] != 0 {
		t.Fatalf("rooms left open after Close: %v", open)
	}
}
