package signal

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSlowClientIsDropped connects a client that never reads: meetd's sends
// to it never block, and once its queue is full it is dropped.
func TestSlowClientIsDropped(t *testing.T) {
	conns := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c := NewConn(context.Background(), ws, slog.New(slog.NewTextHandler(io.Discard, nil)))
		conns <- c
		<-c.Closed()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	c := <-conns

	// Big messages fill the socket buffers; the queue fills behind them.
	text := strings.Repeat("x", 60_000)
	sent := 0
	for ; sent < 100_000; sent++ {
		select {
		case <-c.Done():
		default:
			c.Send(Message{Type: TypeChat, Text: text})
			continue
		}
		break
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatalf("a client that never reads was still connected after %d messages", sent)
	}
	if !errors.Is(c.Err(), ErrSlowClient) {
		t.Fatalf("closed for %v, want ErrSlowClient", c.Err())
	}
	t.Logf("dropped after %d queued messages", sent)
	select {
	case <-c.Closed():
	case <-ctx.Done():
		t.Fatal("the socket of a dropped client was not closed")
	}
}
