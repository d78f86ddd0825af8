package projections_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

var (
	_ projections.Projection = (*tokenset.Set)(nil)
	_ projections.Projection = (*auditlog.Log)(nil)
	_ projections.Source     = (*jsstore.Store)(nil)
)

// testTimeout bounds each test's waits; a healthy run needs a fraction.
const testTimeout = 30 * time.Second

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ctxFor(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// ledger appends events to a real JetStream store on an in-process
// nats-server, the way command handlers do: sealed, hash-chained per
// aggregate, with the aggregate's last sequence as the expectation.
type ledger struct {
	tb    testing.TB
	store *jsstore.Store
	last  map[string]uint64 // aggregate id → sequence of its last event
	prev  map[string]string // aggregate id → hash of its last event
	sent  []events.Envelope // every appended event, Sequence set
}

func newLedger(tb testing.TB) *ledger {
	tb.Helper()
	return newLedgerAt(tb, natstest.RunServer(tb))
}

func newLedgerAt(tb testing.TB, srv *server.Server) *ledger {
	tb.Helper()
	return &ledger{tb: tb, store: openStore(tb, srv), last: map[string]uint64{}, prev: map[string]string{}}
}

func openStore(tb testing.TB, srv *server.Server) *jsstore.Store {
	tb.Helper()
	st, err := jsstore.Open(ctxFor(tb), natstest.Connect(tb, srv), jsstore.Config{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

// eventTime is the Time of the n-th appended event: one minute apart.
func eventTime(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

// append stores one event of aggregate id and returns its sequence.
func (l *ledger) append(id string, p events.Payload) uint64 {
	l.tb.Helper()
	env, err := events.New(storetest.NewEventID(), id, p, eventTime(len(l.sent)+1))
	if err != nil {
		l.tb.Fatal(err)
	}
	env.Actor = events.Actor{Kind: events.ActorUser, ID: "42", Name: "Ada"}
	env.Via = events.Via{CredentialID: "pat-1", CredentialType: events.TokenPersonal, RequestID: storetest.NewEventID()}
	env.Prev = l.prev[id]
	if err := env.Seal(); err != nil {
		l.tb.Fatal(err)
	}
	stored, err := l.store.Append(ctxFor(l.tb), commands.Append{Event: env, Expected: l.last[id], MsgID: env.ID})
	if err != nil {
		l.tb.Fatalf("append %s: %v", env.Type, err)
	}
	seq := stored.Seq
	env.Sequence = seq
	l.last[id], l.prev[id] = seq, env.Hash
	l.sent = append(l.sent, env)
	return seq
}

// token creates a token and returns its id and secret.
func (l *ledger) token(project string) (string, string) {
	l.tb.Helper()
	id := storetest.NewAggregateID()
	secret := fmt.Sprintf("%s:development.%064x", project, len(l.sent)+1)
	l.append(id, events.TokenCreated{
		TokenType: events.TokenClient, Name: "sdk", Environment: "development", Projects: []string{project},
		Path: events.PathAdminAPI, Verifier: events.VerifierHex(secret), Hint: secret[:4] + "…" + secret[len(secret)-4:],
	})
	return id, secret
}

// mixed appends n events: tokens created, scoped, expiring and revoked, and
// events of other kinds in between.
func (l *ledger) mixed(n int) {
	l.tb.Helper()
	var ids []string
	for len(l.sent) < n {
		switch i := len(l.sent); {
		case i%5 == 4 && len(ids) > 0:
			l.append(ids[i%len(ids)], events.TokenRevoked{Reason: events.ReasonDeleted})
		case i%5 == 3 && len(ids) > 0:
			l.append(ids[i%len(ids)], events.TokenScoped{Projects: []string{"beta"}})
		case i%5 == 2 && len(ids) > 0:
			exp := eventTime(i + 30)
			l.append(ids[i%len(ids)], events.TokenExpiryChanged{New: &exp})
		case i%7 == 1:
			l.append(storetest.NewAggregateID(), otherKind{})
		default:
			id, _ := l.token("alpha")
			ids = append(ids, id)
		}
	}
}

// otherKind is a project event: one the token set passes over.
type otherKind struct {
	Name string `json:"name"`
}

func (otherKind) EventType() string     { return "project.created" }
func (otherKind) AggregateKind() string { return events.KindProject }
func (otherKind) SchemaVersion() int    { return 1 }

// digestOf is the digest of a fresh token set fed evs directly.
func digestOf(tb testing.TB, evs []events.Envelope) string {
	tb.Helper()
	s := tokenset.New()
	for _, e := range evs {
		if err := s.Apply(e); err != nil {
			tb.Fatalf("apply seq %d: %v", e.Sequence, err)
		}
	}
	return s.Digest()
}

// start runs r until the test ends. stop cancels Run's context; wait
// returns Run's result once it returned (any number of times).
func start(tb testing.TB, r *projections.Runner) (stop func(), wait func() error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = r.Run(ctx)
	}()
	wait = func() error {
		<-done
		return err
	}
	tb.Cleanup(func() {
		cancel()
		_ = wait()
	})
	return cancel, wait
}

// Ensure events stored before and after Run starts all reach every
// projection, and WaitFor returns once the event was applied.
func TestRunner_applies_events_before_and_after_start(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	l := newLedger(t)
	l.mixed(20)
	set, log := tokenset.New(), auditlog.New(l.store)
	r := projections.NewRunner(l.store, set, log)
	start(t, r)
	if err := r.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if r.LastApplied() < 20 {
		t.Fatalf("ready at %d, before the mark 20", r.LastApplied())
	}

	id, secret := l.token("gamma")
	seq := l.append(id, events.TokenRevoked{Reason: events.ReasonCompromised})
	if err := r.WaitFor(ctx, seq); err != nil {
		t.Fatalf("WaitFor(%d): %v", seq, err)
	}
	if _, st := set.Verify(secret); st != tokenset.Revoked {
		t.Errorf("revocation at %d not visible after WaitFor: status %v", seq, st)
	}
	if set.LastApplied() != seq || log.LastApplied() != seq || r.LastApplied() != seq {
		t.Errorf("LastApplied: set %d, log %d, runner %d; want %d", set.LastApplied(), log.LastApplied(), r.LastApplied(), seq)
	}
	if log.Len() != len(l.sent) {
		t.Errorf("audit log has %d entries, want %d", log.Len(), len(l.sent))
	}
	if got, want := set.Digest(), digestOf(t, l.sent); got != want {
		t.Error("the token set fed by the Runner differs from one fed the appended events")
	}
	if r.Err() != nil {
		t.Errorf("Err() = %v while running", r.Err())
	}
}

// Ensure WaitFor blocks until its sequence is applied and gives up with its
// context.
func TestRunner_WaitFor(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	l := newLedger(t)
	l.mixed(3)
	r := projections.NewRunner(l.store, tokenset.New())
	start(t, r)

	cases := []struct {
		name    string
		seq     uint64
		timeout time.Duration
		want    error
	}{
		{"already_applied", 2, testTimeout, nil},
		{"up_to_the_last_event", 3, testTimeout, nil},
		{"future_sequence_times_out", 4, 50 * time.Millisecond, context.DeadlineExceeded},
	}
	for _, tc := range cases {
		wctx, cancel := context.WithTimeout(ctx, tc.timeout)
		err := r.WaitFor(wctx, tc.seq)
		cancel()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: WaitFor(%d) = %v, want %v", tc.name, tc.seq, err, tc.want)
		}
	}

	// A waiter blocked on a future sequence is woken when it is applied.
	waited := make(chan error, 1)
	go func() { waited <- r.WaitFor(ctx, 5) }()
	l.mixed(5)
	if err := <-waited; err != nil {
		t.Errorf("WaitFor(5) with events appended meanwhile: %v", err)
	}
}

// Ensure Ready means caught up with the stream as it was at start.
func TestRunner_ready_after_catch_up(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	cases := []struct {
		name   string
		events int
	}{
		{"empty_stream_is_ready_at_once", 0},
		{"stream_with_history", 300},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t)
			l.mixed(tc.events)
			r := projections.NewRunner(l.store, tokenset.New())
			if r.Ready() {
				t.Fatal("ready before Run")
			}
			start(t, r)
			if err := r.WaitReady(ctx); err != nil {
				t.Fatalf("WaitReady: %v", err)
			}
			if !r.Ready() || r.LastApplied() < uint64(tc.events) {
				t.Errorf("Ready %v at %d; want true at ≥ %d", r.Ready(), r.LastApplied(), tc.events)
			}
		})
	}
}

// Ensure a restart (a new Runner and new projections over the same stream,
// also after the server restarted) rebuilds identical state.
func TestRunner_restart_yields_identical_state(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	dir := t.TempDir()
	srv := natstest.RunServerAt(t, dir)
	l := newLedgerAt(t, srv)
	l.mixed(60)

	first := tokenset.New()
	r1 := projections.NewRunner(l.store, first)
	stop, done := start(t, r1)
	if err := r1.WaitFor(ctx, 60); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := done(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	if !errors.Is(r1.Err(), context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", r1.Err())
	}
	if err := r1.WaitFor(ctx, 61); !errors.Is(err, projections.ErrStopped) || !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor on a stopped runner = %v, want ErrStopped and the reason", err)
	}

	want := digestOf(t, l.sent)
	if first.Digest() != want {
		t.Error("first run: digest differs from the appended events'")
	}

	// rerun feeds a new Set from st with a new Runner, until caught up.
	rerun := func(name string, st *jsstore.Store) {
		t.Helper()
		s := tokenset.New()
		r := projections.NewRunner(st, s)
		stop, done := start(t, r)
		if err := r.WaitReady(ctx); err != nil {
			t.Fatalf("%s: WaitReady: %v", name, err)
		}
		stop()
		_ = done()
		if s.Digest() != want || s.LastApplied() != 60 {
			t.Errorf("%s: digest differs from the first run's (at %d)", name, s.LastApplied())
		}
	}
	rerun("new_runner_same_server", l.store)
	srv.Shutdown()
	srv.WaitForShutdown()
	rerun("new_runner_restarted_server", openStore(t, natstest.RunServerAt(t, dir)))
}

// Ensure the Runner resumes from where its projections are, feeding a
// projection that is behind without disturbing one that is ahead.
func TestRunner_resumes_from_the_projections(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	l := newLedger(t)
	l.mixed(30)
	ahead := tokenset.New()
	for _, e := range l.sent[:20] {
		if err := ahead.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	behind := auditlog.New(l.store)
	r := projections.NewRunner(l.store, ahead, behind)
	if r.LastApplied() != 0 {
		t.Errorf("LastApplied before Run = %d, want the minimum 0", r.LastApplied())
	}
	start(t, r)
	if err := r.WaitFor(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if ahead.Digest() != digestOf(t, l.sent) || behind.Len() != 30 {
		t.Errorf("after resume: token set digest differs or audit log has %d entries", behind.Len())
	}
}

// Ensure an event a projection cannot apply stops the Runner with an error
// naming it, and waiters learn why.
func TestRunner_stops_at_an_apply_error(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	l := newLedger(t)
	l.mixed(5)
	bad := l.append(storetest.NewAggregateID(), events.TokenRevoked{Reason: events.ReasonDeleted}) // never created
	r := projections.NewRunner(l.store, tokenset.New())
	_, done := start(t, r)
	err := done()
	if !errors.Is(err, tokenset.ErrCorrupt) {
		t.Fatalf("Run = %v, want an error wrapping tokenset.ErrCorrupt", err)
	}
	if !errors.Is(r.Err(), tokenset.ErrCorrupt) {
		t.Errorf("Err() = %v", r.Err())
	}
	if r.LastApplied() != bad-1 {
		t.Errorf("LastApplied = %d, want %d (the event before the bad one)", r.LastApplied(), bad-1)
	}
	for name, wait := range map[string]func() error{
		"WaitFor":   func() error { return r.WaitFor(ctx, bad) },
		"WaitReady": func() error { return r.WaitReady(ctx) },
	} {
		if err := wait(); !errors.Is(err, projections.ErrStopped) || !errors.Is(err, tokenset.ErrCorrupt) {
			t.Errorf("%s = %v, want ErrStopped with the reason", name, err)
		}
	}
}

// Ensure the Stopping hook hears why Run stops before Err or a waiter
// can see it (the service logs a tampered ledger there, before its
// probes report it).
func TestRunner_Stopping_hears_the_stop_before_Err_reports_it(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	l.mixed(3)
	l.append(storetest.NewAggregateID(), events.TokenRevoked{Reason: events.ReasonDeleted}) // never created
	r := projections.NewRunner(l.store, tokenset.New())
	var heard, errThen error
	calls := 0
	r.Stopping = func(err error) {
		calls++
		heard, errThen = err, r.Err()
	}
	_, done := start(t, r)
	err := done()
	if calls != 1 || heard != err {
		t.Fatalf("Stopping called %d times with %v, want once with Run's %v", calls, heard, err)
	}
	if errThen != nil {
		t.Errorf("Err() inside Stopping = %v, want nil (not yet reported)", errThen)
	}
	if !errors.Is(r.Err(), tokenset.ErrCorrupt) {
		t.Errorf("Err() after Run = %v", r.Err())
	}
}

// Ensure Run refuses to run twice at once.
func TestRunner_refuses_a_second_concurrent_run(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	l := newLedger(t)
	l.mixed(2)
	r := projections.NewRunner(l.store, tokenset.New())
	start(t, r)
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("second Run = %v, want a refusal", err)
	}
}

// Ensure NewRunner refuses wiring mistakes.
func TestNewRunner_panics_on_bad_wiring(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	cases := []struct {
		name string
		new  func()
	}{
		{"nil_source", func() { projections.NewRunner(nil, tokenset.New()) }},
		{"no_projections", func() { projections.NewRunner(l.store) }},
		{"nil_projection", func() { projections.NewRunner(l.store, nil) }},
	}
	for _, tc := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.new()
		}()
	}
}

// Ensure AsOf equals the state after exactly that many events.
func TestAsOf(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	l := newLedger(t)
	l.mixed(40)
	cases := []struct {
		name string
		seq  uint64
		want []events.Envelope
	}{
		{"zero_is_empty", 0, nil},
		{"first_event", 1, l.sent[:1]},
		{"middle", 17, l.sent[:17]},
		{"last_event", 40, l.sent},
		{"beyond_the_stream_is_all_of_it", 1000, l.sent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := projections.AsOf(ctx, l.store, tc.seq)
			if err != nil {
				t.Fatal(err)
			}
			if s.Digest() != digestOf(t, tc.want) {
				t.Errorf("AsOf(%d) differs from a set fed the first %d events", tc.seq, len(tc.want))
			}
		})
	}
}

// Ensure AsOfTime stops before the first event after the target time.
func TestAsOfTime(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	l := newLedger(t)
	l.mixed(25)
	cases := []struct {
		name string
		at   time.Time
		want []events.Envelope
	}{
		{"before_everything", t0, nil},
		{"exactly_at_an_event_includes_it", eventTime(10), l.sent[:10]},
		{"between_events", eventTime(10).Add(30 * time.Second), l.sent[:10]},
		{"after_everything", eventTime(1000), l.sent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := projections.AsOfTime(ctx, l.store, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if s.Digest() != digestOf(t, tc.want) {
				t.Errorf("AsOfTime(%s) is at %d, want the state after %d events", tc.at, s.LastApplied(), len(tc.want))
			}
		})
	}
}

// TestHoldSeesEveryProjectionAtOneSequence: while Hold runs no event is
// applied, so the projections stand at the sequence Hold reports, with
// events arriving all along.
func TestHoldSeesEveryProjectionAtOneSequence(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	l := newLedger(t)
	set, log := tokenset.New(), auditlog.New(l.store)
	r := projections.NewRunner(l.store, set, log)
	start(t, r)
	held := 0
	for i := 0; i < 60; i++ {
		l.token("alpha")
		err := r.Hold(func(applied uint64) error {
			if set.LastApplied() != applied || log.LastApplied() != applied {
				t.Errorf("held at %d, the projections stand at %d and %d", applied, set.LastApplied(), log.LastApplied())
			}
			if applied > 0 {
				held++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.WaitFor(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if held == 0 {
		t.Fatal("Hold never ran while events were applied")
	}
}
