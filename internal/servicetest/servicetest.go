// Package servicetest starts the real tokenledger service for tests: an
// embedded NATS JetStream server in a temporary directory, the HTTP API on
// 127.0.0.1 at a port the OS chooses, and helpers that drive it through
// HTTP only, as a client would (create tokens, users, service accounts and
// roles; send requests with a credential; check the error shape).
//
// Time is moved with a [Clock] set as [service.Config.Now], never waited
// for; a condition that becomes true in the background is awaited with
// [WaitFor], bounded. When a test fails, the service's last log lines are
// added to its output.
package servicetest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/service"
)

// AdminSecret and SpareAdminSecret are the INIT_ADMIN_API_TOKENS of every
// service the kit starts.
const (
	AdminSecret      = "*:*.test-admin-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	SpareAdminSecret = "*:*.test-admin-secret-bbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// startTimeout bounds a service's start-up.
const startTimeout = 30 * time.Second

// failedLogLines is how many of its last log lines a service shows when
// its test failed.
const failedLogLines = 30

// Service is a running service, closed when the test ends.
type Service struct {
	*service.Main

	t    testing.TB
	logs *LogBuffer
	env  map[string]string
}

// Config is the configuration of a test service on dir: HTTP on
// 127.0.0.1:0, no NATS listener, no fsync, a 50 ms expiry period, the admin
// tokens plus the INIT_* variables in env, logs to logs.
func Config(dir string, env map[string]string, logs io.Writer) service.Config {
	all := map[string]string{"INIT_ADMIN_API_TOKENS": AdminSecret + ", " + SpareAdminSecret}
	for k, v := range env {
		all[k] = v
	}
	return service.Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: 50 * time.Millisecond,
		Replicas: 1, NoSync: true, Getenv: func(k string) string { return all[k] }, LogOutput: logs}
}

// Start runs a service on dir (a new temporary dir when empty) with the
// INIT_* variables in env added to the admin tokens. It returns once the
// service serves, its projections caught up and the start's whole-log
// check ended.
func Start(t testing.TB, dir string, env map[string]string) *Service {
	t.Helper()
	return StartWith(t, dir, env, nil)
}

// StartWith is Start with a change to the configuration (nil: none).
// The data dir is Config.DataDir; a service started again on it finds the
// same stream.
func StartWith(t testing.TB, dir string, env map[string]string, change func(*service.Config)) *Service {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	logs := &LogBuffer{}
	cfg := Config(dir, env, logs)
	if change != nil {
		change(&cfg)
	}
	m := service.NewMain(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		t.Fatalf("servicetest: start: %v\nlogs:\n%s", err, logs.String())
	}
	// A start from a snapshot is ready before it checked every record the
	// snapshot covers; tests see the service once that check ended (a
	// finding has then stopped the projections), as before it ran after.
	if err := m.WaitWholeLogCheck(ctx); err != nil && events.AsTamper(err) == nil {
		_ = m.Close()
		t.Fatalf("servicetest: the whole-log check: %v\nlogs:\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		_ = m.Close()
		if t.Failed() {
			t.Logf("servicetest: the service's last log lines:\n%s", lastLines(logs.String(), failedLogLines))
		}
	})
	return &Service{Main: m, t: t, logs: logs, env: env}
}

// Restart closes the service and starts a new one on the same data dir
// with the same INIT_* variables and the default configuration.
func (s *Service) Restart() *Service {
	s.t.Helper()
	if err := s.Close(); err != nil {
		s.t.Fatalf("servicetest: close: %v", err)
	}
	return Start(s.t, s.Config.DataDir, s.env)
}

// Logs is everything the service logged so far.
func (s *Service) Logs() string { return s.logs.String() }

// LogBuffer is an io.Writer safe for concurrent use that keeps what the
// service logs.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// T is the test the service fails when a helper fails.
func (s *Service) T() testing.TB { return s.t }

// For is the same service failing t instead: helpers called inside a
// subtest then fail that subtest, on its own goroutine.
func (s *Service) For(t testing.TB) *Service {
	c := *s
	c.t = t
	return &c
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
