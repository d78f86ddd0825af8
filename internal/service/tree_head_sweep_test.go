package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// TestAnEventNoOneWaitsForGetsAHeadWhileWritesWait: while acknowledged
// writes keep waiting for heads (the background writer then stays off
// their path), an event that no one waits for (another replica's, the
// expiry scheduler's) and that no waiter's head covers is still counted
// by the signed tree head beside the data dir, by the background writer's
// sweep.
func TestAnEventNoOneWaitsForGetsAHeadWhileWritesWait(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 100000)
	defer func() { _ = m.Close() }()
	keys, err := integrity.Verifiers(m.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Waiters for an event long covered: they keep the writes "waiting"
	// without writing a head themselves.
	if err := m.waitTreeHead(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waiting, stop := sync.WaitGroup{}, make(chan struct{})
	waiting.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if err := m.waitTreeHead(ctx, 1); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer waiting.Wait()
	defer close(stop)

	env, err := events.New("01JSWEEP000000000000000001", "0193a5b2-0000-7000-8000-000000000001", events.TokenCreated{TokenType: events.TokenBackend,
		Name: "no-one-waits", Environment: "development", Projects: []string{"default"}, Path: events.PathAdminAPI,
		Verifier: strings.Repeat("ab", 32), Hint: "[]:development.…0000"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env.Actor = events.System
	if err := env.Seal(); err != nil {
		t.Fatal(err)
	}
	st, err := m.Store.Append(ctx, commands.Append{Event: env, MsgID: env.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Runner.WaitFor(ctx, st.Seq); err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(dir + ".checkpoint")
		if err == nil {
			if head, err := integrity.OpenCheckpoint(b, keys); err == nil && head.Size >= int64(st.Seq) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no tree head counts sequence %d, appended while writes wait", st.Seq)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
