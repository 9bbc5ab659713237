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

// connect serves one Conn on a test server and dials it: the client's
// end, and meetd's.
func connect(t *testing.T, ctx context.Context) (*websocket.Conn, *Conn) {
	t.Helper()
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
	t.Cleanup(srv.Close)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws, <-conns
}

// TestSlowClientIsDropped connects a client that never reads: meetd's sends
// to it never block, and once its queue is full it is dropped.
func TestSlowClientIsDropped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, c := connect(t, ctx)

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

// TestOversizedMessageKeepsConnection: a message over MaxMessageSize is
// refused with too_large and the next one is read as usual; only one over
// discardLimit closes the connection, after saying why.
func TestOversizedMessageKeepsConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, c := connect(t, ctx)
	next := func() Incoming {
		t.Helper()
		select {
		case in, ok := <-c.Incoming():
			if !ok {
				t.Fatalf("connection closed (%v)", c.Err())
			}
			return in
		case <-ctx.Done():
			t.Fatal("no message")
		}
		return Incoming{}
	}
	send := func(size int) {
		t.Helper()
		msg := `{"type":"chat","text":"` + strings.Repeat("x", size) + `"}`
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for _, size := range []int{MaxMessageSize, 200_000, discardLimit - 100} {
		send(size)
		in := next()
		if e := AsError(in.Err); in.Err == nil || e.Code != CodeTooLarge || !strings.Contains(e.Message, "limit is 65536") {
			t.Fatalf("a message of %d bytes: %+v, want too_large", size, in)
		}
		send(10)
		if in := next(); in.Err != nil || in.Msg.Type != TypeChat {
			t.Fatalf("after a message of %d bytes: %+v, want the chat", size, in)
		}
	}
	// Over the discard limit: an error, then the connection closes.
	// Sent aside: meetd stops reading it part way.
	go ws.Write(ctx, websocket.MessageText, []byte(`{"type":"chat","text":"`+strings.Repeat("x", discardLimit+100)+`"}`))
	_, data, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(data), CodeTooLarge) || !strings.Contains(string(data), "closed the connection") {
		t.Fatalf("over the discard limit: %s %v, want too_large saying the connection closes", data, err)
	}
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("after a message over the discard limit: %v, want the connection closed", err)
	}
}
