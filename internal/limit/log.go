package limit

import (
	"log/slog"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// Log writes refusals to a logger a few at a time: a burst of ten, then one
// a second, counting the ones it leaves out and saying so on the next
// line. A flood of refused requests would otherwise flood the log.
type Log struct {
	log   *slog.Logger
	lines *rate.Limiter
	left  atomic.Int64
}

// NewLog makes a Log that writes to log.
func NewLog(log *slog.Logger) *Log {
	return &Log{log: log, lines: rate.NewLimiter(1, 10)}
}

// Refused logs a refusal at warning level, unless too many came lately.
// A nil Log logs nothing.
func (l *Log) Refused(msg string, args ...any) {
	if l == nil {
		return
	}
	if !l.lines.Allow() {
		l.left.Add(1)
		return
	}
	if n := l.left.Swap(0); n > 0 {
		args = append(args, "not_logged_since_last", n)
	}
	l.log.Warn(msg, args...)
}
