package turn

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogger sends pion's log lines to slog. pion's info is chatty, so it
// is logged at debug; its traces are dropped.
type pionLogger struct {
	log *slog.Logger
}

func newPionLogger(log *slog.Logger) *pionLogger { return &pionLogger{log: log} }

func (l *pionLogger) NewLogger(scope string) logging.LeveledLogger {
	return &pionLogger{log: l.log.With("pion", scope)}
}

func (l *pionLogger) emit(level slog.Level, msg string) {
	l.log.Log(context.Background(), level, msg)
}

func (l *pionLogger) Trace(string)          {}
func (l *pionLogger) Tracef(string, ...any) {}
func (l *pionLogger) Debug(msg string)      { l.emit(slog.LevelDebug, msg) }
func (l *pionLogger) Debugf(format string, args ...any) {
	l.emit(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l *pionLogger) Info(msg string) { l.emit(slog.LevelDebug, msg) }
func (l *pionLogger) Infof(format string, args ...any) {
	l.emit(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (l *pionLogger) Warn(msg string) { l.emit(slog.LevelWarn, msg) }
func (l *pionLogger) Warnf(format string, args ...any) {
	l.emit(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (l *pionLogger) Error(msg string) { l.emit(slog.LevelError, msg) }
func (l *pionLogger) Errorf(format string, args ...any) {
	l.emit(slog.LevelError, fmt.Sprintf(format, args...))
}
