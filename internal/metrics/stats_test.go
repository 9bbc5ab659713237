package metrics

import (
	"strings"
	"testing"
)

func TestShortID(t *testing.T) {
	for in, want := range map[string]string{
		"camera":                                 "camera",
		"12345678901234567890":                   "12345678901234567890",
		"{3f2a9c1e-77b0-4d2e-9a41-5c0e8b7d21aa}": "{3f2a9c1e-…d21aa}",
	} {
		if got := shortID(in); got != want {
			t.Errorf("shortID(%q) = %q, want %q", in, got, want)
		}
	}
}

// The stats page fits a phone and updates its rooms in place, without
// reloading the page (which would lose the scroll position).
func TestStatsPageFitsAPhoneAndUpdatesInPlace(t *testing.T) {
	var b strings.Builder
	rooms := []RoomStats{{Kind: "broadcast", Name: "show", Participants: []ParticipantStats{{ID: "p1", Name: "Sam", Role: "stage"}}}}
	if err := statsPage.Execute(&b, rooms); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`name="viewport"`, `id="rooms"`, "replaceChildren", `rel="icon"`, "Sam"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %s", want)
		}
	}
	if i := strings.Index(page, `http-equiv="refresh"`); i >= 0 && !strings.Contains(page[:i], "<noscript>") {
		t.Error("the page reloads itself even with scripts on")
	}
}
