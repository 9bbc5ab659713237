package turn

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// participants is what the TURN server knows of the people it relays for:
// whose credentials still work, their relays, and how many allocations each
// participant and each client address holds.
//
// A credential works only while its participant is connected to meetd:
// one that leaves is forgotten and its relays are closed, so a credential
// copied out of joined is of no use once its participant has gone.
type participants struct {
	// maxPerUser and maxPerIP cap live allocations; zero means no cap.
	maxPerUser, maxPerIP int
	// relays are the open relays by address, for the peers' check of
	// every packet (so a sync.Map: read far more often than written).
	relays sync.Map // netip.AddrPort → *relayConn

	// mu protects everything below.
	mu sync.Mutex
	// issued are the participants whose credentials work, with when the
	// last one issued expires.
	issued map[string]time.Time
	// byParticipant are each participant's open relays.
	byParticipant map[string]map[*relayConn]struct{}
	// perUser and perIP count live allocations.
	perUser   map[string]int
	perIP     map[netip.Addr]int
	nextPrune time.Time
}

func newParticipants(maxPerUser, maxPerIP int) *participants {
	return &participants{
		maxPerUser: maxPerUser, maxPerIP: maxPerIP,
		issued: map[string]time.Time{}, byParticipant: map[string]map[*relayConn]struct{}{},
		perUser: map[string]int{}, perIP: map[netip.Addr]int{},
	}
}

// issue lets participant's credentials work until they expire at until,
// or the participant leaves.
func (p *participants) issue(participant string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.issued[participant]) {
		p.issued[participant] = until
	}
	// Participants are revoked when they leave; this only keeps the map
	// small should that ever be missed.
	now := time.Now()
	if now.After(p.nextPrune) {
		p.nextPrune = now.Add(time.Minute)
		for id, t := range p.issued {
			if t.Before(now) {
				delete(p.issued, id)
			}
		}
	}
}

// present reports whether participant's credentials work.
func (p *participants) present(participant string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.issued[participant]
	return ok
}

// revoke ends participant's credentials and returns its open relays, for
// the caller to close, and whether it had credentials.
func (p *participants) revoke(participant string) ([]*relayConn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, had := p.issued[participant]
	delete(p.issued, participant)
	var open []*relayConn
	for r := range p.byParticipant[participant] {
		open = append(open, r)
	}
	delete(p.byParticipant, participant)
	return open, had
}

// addRelay records r, unless its participant is gone: checked under the
// same lock as revoke, so no relay opened while its participant leaves
// escapes being closed.
func (p *participants) addRelay(r *relayConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.issued[r.participant]; !ok {
		return false
	}
	set := p.byParticipant[r.participant]
	if set == nil {
		set = map[*relayConn]struct{}{}
		p.byParticipant[r.participant] = set
	}
	set[r] = struct{}{}
	p.relays.Store(r.addr, r)
	return true
}

func (p *participants) removeRelay(r *relayConn) {
	p.relays.Delete(r.addr)
	p.mu.Lock()
	defer p.mu.Unlock()
	if set := p.byParticipant[r.participant]; set != nil {
		delete(set, r)
		if len(set) == 0 {
			delete(p.byParticipant, r.participant)
		}
	}
}

// isRelay reports whether a is one of the open relays.
func (p *participants) isRelay(a netip.AddrPort) bool {
	_, ok := p.relays.Load(plain(a))
	return ok
}

// quota is why one more allocation for participant from client would
// pass a cap, or "" when it would not.
func (p *participants) quota(participant string, client net.Addr) string {
	ip := addrIP(client)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.maxPerUser > 0 && p.perUser[participant] >= p.maxPerUser:
		return "allocations per participant"
	case p.maxPerIP > 0 && p.perIP[ip] >= p.maxPerIP:
		return "allocations per client address"
	}
	return ""
}

// count adds n (1 or -1) to the live allocations of participant and client.
func (p *participants) count(participant string, client net.Addr, n int) {
	ip := addrIP(client)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perUser[participant] += n; p.perUser[participant] <= 0 {
		delete(p.perUser, participant)
	}
	if p.perIP[ip] += n; p.perIP[ip] <= 0 {
		delete(p.perIP, ip)
	}
}

// addrIP is the IP address of a client's UDP or TCP address.
func addrIP(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		if a != nil {
			ap, _ := netip.ParseAddrPort(a.String())
			return ap.Addr().Unmap().WithZone("")
		}
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap().WithZone("")
}
