package jsstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Logger is what receives the embedded server's log: *slog.Logger
// satisfies it.
type Logger interface {
	Log(ctx context.Context, level slog.Level, msg string, args ...any)
}

// serverLogger implements nats-server's server.Logger over a Logger:
// notices are Info, warnings Warn, errors and fatal errors Error; debug
// and trace lines are dropped. A fatal error (the server cannot listen,
// JetStream cannot use its store) is also kept for StartEmbedded to
// return, since the server stops without another word.
//
// Lines about one client connection (nats-server prefixes them with the
// client's address and "cid:") are at most clientLinesPerWindow per
// clientWindow: any local process can make the server write one (a failed
// sign-in is an error line), and the log must not be theirs to fill. The
// next line after a suppressed burst says how many were dropped.
type serverLogger struct {
	log   Logger
	fatal chan struct{}
	once  sync.Once
	mu    sync.Mutex
	first string

	windowStart time.Time
	inWindow    int
	dropped     int
}

const (
	clientWindow         = 10 * time.Second
	clientLinesPerWindow = 20
)

func newServerLogger(l Logger) *serverLogger {
	return &serverLogger{log: l, fatal: make(chan struct{})}
}

func (l *serverLogger) emit(level slog.Level, format string, v []any) string {
	msg := fmt.Sprintf(format, v...)
	if l.log == nil {
		return msg
	}
	args := []any{"component", "nats-server"}
	if strings.Contains(msg, " - cid:") {
		ok, dropped := l.allowClientLine(time.Now())
		if !ok {
			return msg
		}
		if dropped > 0 {
			args = append(args, "suppressed_client_lines", dropped)
		}
	}
	l.log.Log(context.Background(), level, "nats-server: "+msg, args...)
	return msg
}

// allowClientLine reports whether a client line may be logged now, and how
// many were dropped since the last one logged.
func (l *serverLogger) allowClientLine(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.windowStart) >= clientWindow {
		l.windowStart, l.inWindow = now, 0
	}
	if l.inWindow >= clientLinesPerWindow {
		l.dropped++
		return false, 0
	}
	l.inWindow++
	d := l.dropped
	l.dropped = 0
	return true, d
}

func (l *serverLogger) Noticef(format string, v ...any) { l.emit(slog.LevelInfo, format, v) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.emit(slog.LevelWarn, format, v) }
func (l *serverLogger) Errorf(format string, v ...any) {
	l.keep(l.emit(slog.LevelError, format, v), false)
}
func (l *serverLogger) Fatalf(format string, v ...any) {
	l.keep(l.emit(slog.LevelError, format, v), true)
}
func (l *serverLogger) Debugf(string, ...any) {}
func (l *serverLogger) Tracef(string, ...any) {}

// keep remembers the first error (the cause; later ones are usually its
// consequences) and signals a fatal one.
func (l *serverLogger) keep(msg string, fatal bool) {
	l.mu.Lock()
	if l.first == "" {
		l.first = msg
	}
	l.mu.Unlock()
	if fatal {
		l.once.Do(func() { close(l.fatal) })
	}
}

// fatalMsg is the first error the server logged, or "".
func (l *serverLogger) fatalMsg() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}
