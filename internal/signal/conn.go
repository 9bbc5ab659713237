package signal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
)

const (
	// sendQueueSize bounds the messages waiting for a slow client; a client
	// that falls this far behind is dropped rather than waited for.
	sendQueueSize = 256
	writeTimeout  = 10 * time.Second
	pingInterval  = 20 * time.Second
	pingTimeout   = 15 * time.Second
	// discardLimit is the largest message read to its end: one over
	// MaxMessageSize is dropped as it arrives, never held, and answered
	// with too_large; one over discardLimit is not worth reading on, and
	// closes the connection after a too_large error.
	discardLimit = 1 << 20
)

// ErrSlowClient is the reason a connection is closed when its send queue is full.
var ErrSlowClient = errors.New("client is not reading its messages")

// Conn is one client's WebSocket. Incoming messages are decoded by a read
// loop and delivered on Incoming; Send queues an outgoing message without
// blocking. Closing the connection closes Done.
type Conn struct {
	ws     *websocket.Conn
	log    *slog.Logger
	in     chan Incoming
	out    chan []byte
	done   chan struct{}
	closed chan struct{}
	cancel context.CancelFunc
	// abort cancels a write in progress: a client too slow to read is
	// dropped at once, not flushed to.
	abortCtx context.Context
	abort    context.CancelFunc

	closeOnce sync.Once
	// closeErr is written once under closeOnce, before done is closed.
	closeErr error
}

// Incoming is one message read from the client: either a valid Message or
// the error explaining why it was refused.
type Incoming struct {
	Msg Message
	Err error
}

// NewConn starts the read, write and ping loops of ws. They stop when ctx is
// done, the client goes away, or Close is called.
func NewConn(ctx context.Context, ws *websocket.Conn, log *slog.Logger) *Conn {
	ctx, cancel := context.WithCancel(ctx)
	abortCtx, abort := context.WithCancel(context.Background())
	// readMessage bounds what is held; the WebSocket layer's own limit is
	// only a backstop behind it.
	ws.SetReadLimit(discardLimit + 1)
	c := &Conn{
		ws:       ws,
		log:      log,
		in:       make(chan Incoming, 16),
		out:      make(chan []byte, sendQueueSize),
		done:     make(chan struct{}),
		closed:   make(chan struct{}),
		cancel:   cancel,
		abortCtx: abortCtx,
		abort:    abort,
	}
	go c.readLoop(ctx)
	go c.writeLoop(ctx)
	go c.pingLoop(ctx)
	return c
}

// Incoming delivers decoded messages. It is closed when the connection ends.
func (c *Conn) Incoming() <-chan Incoming { return c.in }

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Closed is closed once the socket itself is closed, after Done.
func (c *Conn) Closed() <-chan struct{} { return c.closed }

// Err is why the connection closed; nil while it is open or after a normal close.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.closeErr
	default:
		return nil
	}
}

// Send queues m for the client. It never blocks: when the queue is full the
// client is too slow and the connection is closed.
func (c *Conn) Send(m Message) {
	data, err := json.Marshal(m)
	if err != nil {
		c.log.Error("encode message", "type", m.Type, "err", err)
		return
	}
	select {
	case <-c.done:
	case c.out <- data:
	default:
		c.log.Warn("dropping client: send queue full", "queued", len(c.out))
		c.Close(ErrSlowClient)
	}
}

// SendError sends err as an error message.
func (c *Conn) SendError(err error) { c.Send(ErrorMessage(err)) }

// Close closes the connection; reason is nil for a normal close.
func (c *Conn) Close(reason error) {
	c.closeOnce.Do(func() {
		c.closeErr = reason
		// The write loop flushes what is queued, closes the socket, and
		// only then cancels the read side: cancelling a read first would
		// drop the socket before the flush.
		close(c.done)
		if errors.Is(reason, ErrSlowClient) {
			c.abort()
		}
	})
}

func (c *Conn) readLoop(ctx context.Context) {
	defer close(c.in)
	defer c.Close(nil)
	for {
		typ, data, size, err := c.readMessage(ctx)
		if err != nil {
			status := websocket.CloseStatus(err)
			if status == websocket.StatusNormalClosure || status == websocket.StatusGoingAway || ctx.Err() != nil {
				return
			}
			if status == -1 {
				c.log.Debug("websocket read ended", "err", err)
			} else {
				c.log.Info("websocket closed by client", "status", status)
			}
			return
		}
		var in Incoming
		switch {
		case size > discardLimit:
			// The write loop flushes this error before it closes the socket.
			err := Errorf(CodeTooLarge, "The message is over %d bytes, so meetd closed the connection; a message is at most %d bytes.",
				discardLimit, MaxMessageSize)
			c.log.Warn("closing connection: message too large", "bytes", size)
			c.SendError(err)
			c.Close(err)
			return
		case size > MaxMessageSize:
			in.Err = Errorf(CodeTooLarge, "The message is %d bytes; the limit is %d.", size, MaxMessageSize)
		case typ != websocket.MessageText:
			in.Err = Errorf(CodeBadMessage, "Messages must be text frames holding JSON.")
		default:
			in.Msg, in.Err = Decode(data)
		}
		select {
		case c.in <- in:
		case <-c.done:
			return
		}
	}
}

// readMessage reads the next message, keeping at most MaxMessageSize+1
// bytes of it: the rest of a longer one is read and dropped, up to
// discardLimit+1 bytes, so the connection goes on with the next message.
// size is how much was read.
func (c *Conn) readMessage(ctx context.Context) (websocket.MessageType, []byte, int64, error) {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return 0, nil, 0, err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxMessageSize+1))
	if err != nil || len(data) <= MaxMessageSize {
		return typ, data, int64(len(data)), err
	}
	dropped, err := io.Copy(io.Discard, io.LimitReader(r, discardLimit+1-int64(len(data))))
	return typ, nil, int64(len(data)) + dropped, err
}

// pingLoop drops a client whose connection stops answering pings.
func (c *Conn) pingLoop(ctx context.Context) {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				c.log.Info("dropping client: ping failed", "err", err)
				c.Close(err)
				return
			}
		}
	}
}

func (c *Conn) writeLoop(ctx context.Context) {
	defer close(c.closed)
	defer c.cancel()
	defer c.abort()
	defer func() {
		if errors.Is(c.closeErr, ErrSlowClient) {
			c.ws.CloseNow()
			return
		}
		status, reason := websocket.StatusNormalClosure, ""
		if err := c.closeErr; err != nil {
			status, reason = websocket.StatusPolicyViolation, err.Error()
			if len(reason) > 120 {
				reason = reason[:120]
			}
		}
		// Flush what is queued (an error explaining the close, say), briefly.
		for {
			select {
			case data := <-c.out:
				if c.write(context.Background(), data) != nil {
					c.ws.CloseNow()
					return
				}
				continue
			default:
			}
			break
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		go func() { <-closeCtx.Done(); c.ws.CloseNow() }()
		c.ws.Close(status, reason)
	}()
	for {
		select {
		case <-c.done:
			return
		case data := <-c.out:
			if err := c.write(ctx, data); err != nil {
				c.log.Info("websocket write failed", "err", err)
				c.Close(err)
				return
			}
		}
	}
}

func (c *Conn) write(ctx context.Context, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	stop := context.AfterFunc(c.abortCtx, cancel)
	defer stop()
	return c.ws.Write(ctx, websocket.MessageText, data)
}
