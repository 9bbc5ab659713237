package room

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clockedMember notes when it was last notified.
type clockedMember struct {
	member
	at atomic.Int64 // unix nanoseconds
}

func (m *clockedMember) Notify() {
	m.at.Store(time.Now().UnixNano())
	m.member.Notify()
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An audience coming and going wakes each member at most once per
// audienceEvery, not once per arrival: every wake-up costs the server work
// for that member, and a join should not cost work for each of the others.
// They still learn the last change.
func TestAudienceChangesAreToldTogether(t *testing.T) {
	d := newDir()
	streamer := &clockedMember{member: member{id: "streamer"}}
	r, err := d.Join(Broadcast, "show", streamer, Stage, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	watching := make([]*clockedMember, 20)
	for i := range watching {
		watching[i] = &clockedMember{member: member{id: fmt.Sprintf("w%d", i)}}
		if _, err := d.Join(Broadcast, "show", watching[i], Audience, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	// Let the notification of those joins go out, then count afresh.
	time.Sleep(audienceEvery + 100*time.Millisecond)
	all := append([]*clockedMember{streamer}, watching...)
	for _, m := range all {
		m.notified.Store(0)
	}

	start := time.Now()
	const churn = 200
	var last time.Time // of the last change
	for i := range churn {
		m := &member{id: fmt.Sprintf("c%d", i)}
		if _, err := d.Join(Broadcast, "show", m, Audience, "", 0); err != nil {
			t.Fatal(err)
		}
		last = time.Now()
		d.Leave(r, m)
	}
	end := time.Now()
	elapsed := end.Sub(start)
	// One per interval begun during the churn, one at its end.
	most := int32(2 + elapsed/audienceEvery)
	waitFor(t, "every member to hear of the last change", func() bool {
		for _, m := range all {
			if m.at.Load() < last.UnixNano() {
				return false
			}
		}
		return true
	})
	time.Sleep(audienceEvery + 100*time.Millisecond)
	for _, m := range all {
		if n := m.notified.Load(); n > most {
			t.Errorf("%s was woken %d times by %d arrivals and departures in %v; want at most %d",
				m.id, n, 2*churn, elapsed.Round(time.Millisecond), most)
		}
	}
	if v := r.Snapshot().Viewers; v != len(watching) {
		t.Errorf("viewers %d, want %d", v, len(watching))
	}
}

// What changes a member's own list is told at once, even while audience
// changes wait: the stage, an invitation, the speaker.
func TestStageChangesAreToldAtOnce(t *testing.T) {
	d := newDir()
	host, viewer, guest := &member{id: "h"}, &member{id: "v"}, &member{id: "g"}
	r, _ := d.Join(Broadcast, "show", host, Stage, "", 0)
	for _, m := range []*member{viewer, guest} {
		if _, err := d.Join(Broadcast, "show", m, Audience, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	// An audience change is waiting now (two joins within the interval).
	if err := r.Move(host, "g", Stage); err != nil { // an invitation
		t.Fatal(err)
	}
	before := viewer.notified.Load()
	d.Leave(r, guest) // an invited guest leaving changes every list
	if viewer.notified.Load() == before {
		t.Error("the viewer was not told at once that an invited guest left")
	}
	before = viewer.notified.Load()
	if err := r.SetMedia(host, true, true, ""); err != nil {
		t.Fatal(err)
	}
	if viewer.notified.Load() == before {
		t.Error("the viewer was not told at once of the stage's media")
	}
}

// A room that closes with an audience change waiting tells no one.
func TestClosedRoomTellsNoOne(t *testing.T) {
	d := newDir()
	a, b := &member{id: "a"}, &member{id: "b"}
	r, _ := d.Join(Broadcast, "show", a, Audience, "", 0)
	if _, err := d.Join(Broadcast, "show", b, Audience, "", 0); err != nil {
		t.Fatal(err)
	}
	d.Leave(r, b)
	d.Leave(r, a) // the room closes with b's departure still untold
	n := a.notified.Load()
	time.Sleep(audienceEvery + 100*time.Millisecond)
	if a.notified.Load() != n {
		t.Error("a closed room notified a former member")
	}
}

// A large audience is woken in batches with pauses between them, so that
// the work of each member woken never queues up all at once.
func TestAudienceIsToldInBatches(t *testing.T) {
	var (
		mu            sync.Mutex
		counting      bool
		seen          int // every notification
		sincePause    int
		largest       int
		pauses, total int
	)
	notified := func() {
		mu.Lock()
		defer mu.Unlock()
		seen++
		if counting {
			sincePause++
			total++
			largest = max(largest, sincePause)
		}
	}
	old := pauseBetweenBatches
	pauseBetweenBatches = func() {
		mu.Lock()
		defer mu.Unlock()
		sincePause = 0
		pauses++
	}
	defer func() { pauseBetweenBatches = old }()

	d := newDir()
	const audience = 100
	if _, err := d.Join(Broadcast, "show", &hookMember{id: "streamer", notify: notified}, Stage, "", 0); err != nil {
		t.Fatal(err)
	}
	for i := range audience {
		if _, err := d.Join(Broadcast, "show", &hookMember{id: fmt.Sprintf("v%d", i), notify: notified}, Audience, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	// Once those joins are told (the streamer's at once, the first
	// viewer's at once to both, the rest together to all), one more is
	// told to everyone.
	waitFor(t, "the joins to be told", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen >= 1+2+1+audience
	})
	mu.Lock()
	counting, pauses = true, 0
	mu.Unlock()
	if _, err := d.Join(Broadcast, "show", &member{id: "late"}, Audience, "", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the join to be told to everyone", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return total == 1+audience
	})
	mu.Lock()
	defer mu.Unlock()
	if largest > audienceBatch || pauses == 0 {
		t.Errorf("%d members woken without a pause (%d pauses), want at most %d", largest, pauses, audienceBatch)
	}
}

// hookMember calls notify when notified.
type hookMember struct {
	id     string
	notify func()
}

func (m *hookMember) ID() string { return m.id }
func (m *hookMember) Notify()    { m.notify() }
