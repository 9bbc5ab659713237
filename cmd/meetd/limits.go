package main

import (
	"log/slog"
	"net/netip"

	"github.com/meetd/meetd/internal/limit"
)

// perAddr are the registries that count, for each client address, what
// PerAddrLimits bound.
type perAddr struct {
	connections, rooms, sessions *limit.Registry[netip.Addr]
}

func newPerAddr(l PerAddrLimits, log *slog.Logger) perAddr {
	return perAddr{
		connections: limit.PerAddr(limit.Config{Name: "connections", Max: l.Connections, Log: log}),
		rooms: limit.PerAddr(limit.Config{Name: "rooms opened", Max: l.Rooms,
			Events: l.RoomsOpened, Window: l.RoomsWindow, Log: log}),
		sessions: limit.PerAddr(limit.Config{Name: "WHIP and WHEP sessions", Max: l.Sessions, Log: log}),
	}
}
