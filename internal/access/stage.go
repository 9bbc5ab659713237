package access

import "net/netip"

// Records says whether the rooms file has the room recorded whenever it
// is live.
func (p *Policy) Records(kind, room string) bool {
	return p != nil && p.rooms[kind+"/"+room].Record
}

// StageCredential checks a credential of a room's stage, which opens the
// room's recordings: a stage token for the room, or its stage password
// when the rooms file gives it one. A room without either has no such
// credential: ErrAuthRequired.
func (p *Policy) StageCredential(kind, room, password, token string, ip netip.Addr) error {
	if p == nil {
		return ErrAuthRequired
	}
	if token == "" {
		if p.rooms[kind+"/"+room].StagePassword == "" {
			return ErrAuthRequired
		}
		if password == "" {
			return ErrAuthRequired
		}
	}
	_, err := p.Admit(Request{Kind: kind, Room: room, Role: Stage, Password: password, Token: token, IP: ip})
	return err
}
