package client

import "sync"

// queue holds work posted to a client's goroutine by other goroutines
// (pion callbacks, rooms). Posting never blocks; the client runs the work in
// order, on its own goroutine, so only that goroutine touches its state.
type queue struct {
	// mu protects items.
	mu    sync.Mutex
	items []func()
	ready chan struct{}
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) post(f func()) {
	q.mu.Lock()
	q.items = append(q.items, f)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *queue) take() []func() {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}
