package client

import (
	"errors"
	"net/netip"

	"github.com/meetd/meetd/internal/limit"
	"github.com/meetd/meetd/internal/room"
	"github.com/meetd/meetd/internal/signal"
)

// Addr is the client's address, as per-client limits count it: the TCP
// peer's, or the one a trusted proxy named.
func (c *Client) Addr() netip.Addr { return limit.ParseAddr(c.remote) }

// RoomOpener bounds the rooms each client address opens, with rooms, for
// room.Directory.SetOpener: a room counts against the address of the
// client that opened it until it closes.
func RoomOpener(rooms *limit.Registry[netip.Addr]) room.Opener {
	return func(m room.Member) (func(), error) {
		c, ok := m.(*Client)
		if !ok {
			return func() {}, nil
		}
		return rooms.Acquire(c.Addr())
	}
}

// refuseJoin tells the client why it may not join. A limit logs its own
// refusals, a few a second at most: logging each one here as well would
// let a flood of them flood the log.
func (c *Client) refuseJoin(err error, name string) {
	var over *limit.Error
	if !errors.As(err, &over) {
		c.log.Info("join refused", "room", name, "err", err)
		c.fail(roomError(err, name))
		return
	}
	c.log.Debug("join refused", "room", name, "err", err)
	if c.env.Metrics != nil {
		c.env.Metrics.SignalingError(signal.CodeRateLimited)
	}
	c.conn.SendError(roomError(err, name))
}
