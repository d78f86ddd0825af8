package expiry_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/expiry"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// replica is one ledger process on a shared stream: its own connection,
// store, token set following the stream, command handler and expiry
// scheduler, on a clock the test moves.
type replica struct {
	store  *jsstore.Store
	runner *projections.Runner
	sched  *expiry.Scheduler
	stop   func()
}

func startReplica(t *testing.T, srv *server.Server, now func() time.Time) *replica {
	t.Helper()
	ctx := testCtx(t)
	st, err := jsstore.Open(ctx, natstest.Connect(t, srv), jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	set := tokenset.New()
	runner := projections.NewRunner(st, set)
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runner.Run(rctx) }()
	var once sync.Once
	r := &replica{store: st, runner: runner,
		sched: &expiry.Scheduler{Commands: commands.NewHandler(st, commands.Config{Now: now}), Tokens: set},
		stop: func() {
			once.Do(func() {
				cancel()
				<-done
				_ = st.Close()
			})
		}}
	t.Cleanup(r.stop)
	if err := runner.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createExpiring appends n token.created events expiring at exp.
func createExpiring(t *testing.T, st *jsstore.Store, n int, exp time.Time) []string {
	t.Helper()
	var ids []string
	for i := range n {
		p := storetest.TokenCreated()
		p.Verifier, p.ExpiresAt = events.VerifierHex(fmt.Sprintf("expiry-once-%d-%d", exp.Unix(), i)), &exp
		id := storetest.NewAggregateID()
		if _, err := st.Append(testCtx(t), commands.Append{Event: storetest.Event(t, id, p, ""), MsgID: storetest.NewEventID()}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// tickTogether runs every replica's scheduler tick at the same moment
// (after each caught up with the stream) and returns how many events they
// appended in all.
func tickTogether(t *testing.T, rs ...*replica) int {
	t.Helper()
	ctx := testCtx(t)
	last, err := rs[0].store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := r.runner.WaitFor(ctx, last); err != nil {
			t.Fatal(err)
		}
	}
	var appended atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			n, err := r.sched.Tick(ctx)
			if err != nil {
				t.Errorf("Tick: %v", err)
			}
			appended.Add(int64(n))
		}()
	}
	close(start)
	wg.Wait()
	return int(appended.Load())
}

// expiredCounts counts the token.expired events of each token in the
// stream.
func expiredCounts(t *testing.T, st *jsstore.Store) map[string]int {
	t.Helper()
	ctx := testCtx(t)
	last, err := st.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	err = st.Replay(ctx, 1, last, func(env events.Envelope) error {
		if env.Type == events.TypeTokenExpired {
			out[env.AggregateID]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Two ledger processes on one stream, both ticking at the same moment,
// append token.expired exactly once per token; so do two processes
// started after a downtime during which more expiries passed.
func TestExpiryIsRecordedOnceByTwoLedgerProcesses(t *testing.T) {
	srv := natstest.RunServer(t)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }

	a, b := startReplica(t, srv, now), startReplica(t, srv, now)
	first := createExpiring(t, a.store, 20, t0.Add(time.Hour))
	if n := tickTogether(t, a, b); n != 0 {
		t.Fatalf("%d expiries recorded before any expiry passed", n)
	}
	clock.Store(t0.Add(2 * time.Hour).UnixNano())
	// Each process counts only what it stored: an append deduplicated by
	// its Nats-Msg-Id is a replay (TestExpiryDeduplicatedAppendIsNotCounted).
	if n := tickTogether(t, a, b) + tickTogether(t, a, b); n != len(first) {
		t.Fatalf("the two schedulers recorded %d expiries of %d expired tokens", n, len(first))
	}
	onceEach(t, a.store, first)

	// Downtime: both processes stop; more tokens expire meanwhile.
	a.stop()
	b.stop()
	w := startReplica(t, srv, now)
	second := createExpiring(t, w.store, 20, t0.Add(3*time.Hour))
	w.stop()
	clock.Store(t0.Add(4 * time.Hour).UnixNano())
	c, d := startReplica(t, srv, now), startReplica(t, srv, now)
	if n := tickTogether(t, c, d) + tickTogether(t, c, d); n != len(second) {
		t.Fatalf("after the downtime the schedulers recorded %d of %d missed expiries", n, len(second))
	}
	onceEach(t, c.store, append(first, second...))
}

// onceEach checks that the stream holds exactly one token.expired for each
// of ids and none for another token.
func onceEach(t *testing.T, st *jsstore.Store, ids []string) {
	t.Helper()
	counts := expiredCounts(t, st)
	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("token %s has %d token.expired events, want 1", id, counts[id])
		}
	}
	if len(counts) != len(ids) {
		t.Errorf("token.expired for %d tokens, want %d", len(counts), len(ids))
	}
}
