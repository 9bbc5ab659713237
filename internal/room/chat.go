package room

import "sync/atomic"

// chatOverhead is what a kept message costs besides its text and name:
// its struct, time and sequence number.
const chatOverhead = 96

// chatBudget bounds the chat history of a directory's rooms: each room's
// in bytes, and all of them together. A nil budget bounds nothing.
type chatBudget struct {
	perRoom, total int64
	// used is what every room's history holds now.
	used atomic.Int64
}

func chatSize(m ChatMessage) int64 { return int64(len(m.Text)+len(m.Name)) + chatOverhead }

// take counts a message kept and returns its size.
func (b *chatBudget) take(m ChatMessage) int64 {
	n := chatSize(m)
	if b != nil {
		b.used.Add(n)
	}
	return n
}

// give counts a message dropped and returns its size.
func (b *chatBudget) give(m ChatMessage) int64 {
	n := chatSize(m)
	if b != nil {
		b.used.Add(-n)
	}
	return n
}

// over says whether a room holding roomBytes must drop its oldest message.
func (b *chatBudget) over(roomBytes int64) bool {
	if b == nil {
		return false
	}
	return (b.perRoom > 0 && roomBytes > b.perRoom) || (b.total > 0 && b.used.Load() > b.total)
}

// ChatBytes is how many bytes the chat history of every room holds.
func (d *Directory) ChatBytes() int64 { return d.chat.used.Load() }
