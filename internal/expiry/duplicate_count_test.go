package expiry_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/expiry"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// beforeFirstAppend is a replica's real store whose first Append first
// runs another replica's work: the other process records the expiry after
// this one decided it and before its append reaches the stream.
type beforeFirstAppend struct {
	commands.EventStore
	once   sync.Once
	before func()
}

func (s *beforeFirstAppend) Append(ctx context.Context, batch ...commands.Append) (commands.Stored, error) {
	s.once.Do(s.before)
	return s.EventStore.Append(ctx, batch...)
}

// When two ledger processes record the same expiry and the second one's
// append is deduplicated by JetStream (same message id, the first one's
// event already stored), the second one's Tick counts nothing: the store
// reports the duplicate, so each expiry is counted once across processes,
// as it is stored once.
func TestExpiryDeduplicatedAppendIsNotCounted(t *testing.T) {
	srv := natstest.RunServer(t)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }

	a, b := startReplica(t, srv, now), startReplica(t, srv, now)
	ids := createExpiring(t, a.store, 1, t0.Add(time.Hour))
	clock.Store(t0.Add(2 * time.Hour).UnixNano())
	ctx := testCtx(t)
	last, err := a.store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*replica{a, b} {
		if err := r.runner.WaitFor(ctx, last); err != nil {
			t.Fatal(err)
		}
	}

	var byA int
	var errA error
	store := &beforeFirstAppend{EventStore: b.store, before: func() { byA, errA = a.sched.Tick(ctx) }}
	sched := &expiry.Scheduler{Commands: commands.NewHandler(store, commands.Config{Now: now}), Tokens: b.sched.Tokens}
	byB, err := sched.Tick(ctx)
	if err != nil || errA != nil {
		t.Fatalf("Tick: %v; the other process's Tick: %v", err, errA)
	}
	if byA != 1 || byB != 0 {
		t.Fatalf("the first process counted %d expiries and the deduplicated one %d; want 1 and 0", byA, byB)
	}
	onceEach(t, a.store, ids)
}
