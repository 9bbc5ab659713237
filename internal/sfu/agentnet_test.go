package sfu

import (
	"testing"
	"time"
)

// ICE agents share one list of interfaces, read again once it is
// interfacesEvery old.
func TestAgentsShareTheInterfaceList(t *testing.T) {
	n, err := newAgentNet()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := n.Interfaces()
	b, _ := n.Interfaces()
	if len(a) == 0 || &a[0] != &b[0] {
		t.Fatal("two agents read the interfaces twice")
	}
	n.at = n.at.Add(-interfacesEvery - time.Second)
	c, _ := n.Interfaces()
	if len(c) == 0 || &c[0] == &a[0] {
		t.Fatal("the list was not read again once old")
	}
	if _, err := n.InterfaceByName(c[0].Name); err != nil {
		t.Errorf("interface %s by name: %v", c[0].Name, err)
	}
}
