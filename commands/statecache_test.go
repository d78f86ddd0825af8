package commands_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// The handler keeps folded states between commands (the state cache) and
// reads only the events stored since. These tests guard that the cache is
// never the truth: another ledger process's events are seen, the
// expectation still picks one winner, replays still apply once, and a
// stale state cannot widen anything.

// twoProcesses is two ledger processes on one stream: each its own NATS
// connection, store and handler (so its own state cache).
type twoProcesses struct {
	ctx    context.Context
	a, b   *commands.Handler
	storeA *jsstore.Store
	storeB *jsstore.Store
}

func newTwoProcesses(t *testing.T, wrapA func(commands.EventStore) commands.EventStore) *twoProcesses {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), handlerTimeout)
	t.Cleanup(cancel)
	srv := natstest.RunServer(t)
	open := func() *jsstore.Store {
		st, err := jsstore.Open(ctx, natstest.Connect(t, srv), jsstore.Config{})
		if err != nil {
			t.Fatalf("jsstore.Open: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	p := &twoProcesses{ctx: ctx, storeA: open(), storeB: open()}
	var a commands.EventStore = p.storeA
	if wrapA != nil {
		a = wrapA(a)
	}
	p.a, p.b = newTestHandler(a), newTestHandler(p.storeB)
	return p
}

func (p *twoProcesses) events(t *testing.T, kind, id string) []events.Envelope {
	t.Helper()
	evs, err := p.storeB.Load(p.ctx, kind, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.VerifyChain(evs); err != nil {
		t.Fatalf("chain of %s %s: %v", kind, id, err)
	}
	return evs
}

func (p *twoProcesses) token(t *testing.T, id string) {
	t.Helper()
	if _, err := p.a.CreateToken(p.ctx, meta(""), commands.CreateToken{TokenID: id, Type: events.TokenBackend, Name: id,
		Environment: "development", Projects: []string{"a", "b"}, Path: events.PathAdminAPI}); err != nil {
		t.Fatalf("create token: %v", err)
	}
}

func inDays(day int) *time.Time {
	t := now.AddDate(0, 0, day)
	return &t
}

// A process whose cached token state predates another process's changes
// decides on the fresh state: the expiry change it records names the other
// process's expiry as the previous one, and a revocation by the other
// process stops it from re-scoping the token.
func TestCachedTokenStateSeesAnotherProcessesEvents(t *testing.T) {
	p := newTwoProcesses(t, nil)
	p.token(t, "tok-1")
	if _, err := p.a.ChangeExpiry(p.ctx, meta("a-1"), commands.ChangeExpiry{TokenID: "tok-1", ExpiresAt: inDays(1)}); err != nil {
		t.Fatal(err) // A now holds the token's state
	}
	if _, err := p.b.ChangeExpiry(p.ctx, meta("b-1"), commands.ChangeExpiry{TokenID: "tok-1", ExpiresAt: inDays(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.a.ChangeExpiry(p.ctx, meta("a-2"), commands.ChangeExpiry{TokenID: "tok-1", ExpiresAt: inDays(3)}); err != nil {
		t.Fatalf("A after B's change: %v", err)
	}
	evs := p.events(t, events.KindToken, "tok-1")
	pl, err := evs[len(evs)-1].Payload()
	if err != nil {
		t.Fatal(err)
	}
	if got := pl.(events.TokenExpiryChanged); got.Previous == nil || !got.Previous.Equal(*inDays(2)) || !got.New.Equal(*inDays(3)) {
		t.Fatalf("A recorded %+v, want previous = B's expiry %v", got, *inDays(2))
	}
	if _, err := p.b.RevokeToken(p.ctx, meta("b-2"), commands.RevokeToken{TokenID: "tok-1", Reason: events.ReasonCompromised}); err != nil {
		t.Fatal(err)
	}
	before := len(p.events(t, events.KindToken, "tok-1"))
	_, err = p.a.ScopeToken(p.ctx, meta("a-3"), commands.ScopeToken{TokenID: "tok-1", Remove: []string{"a"}})
	if !errors.Is(err, commands.ErrGone) {
		t.Fatalf("A re-scoped a token B revoked: err = %v, want ErrGone", err)
	}
	if after := len(p.events(t, events.KindToken, "tok-1")); after != before {
		t.Fatalf("the token got %d events after its revocation", after-before)
	}
}

// A unique name that a process's cached state shows as free, but another
// process claimed since, is refused: the name aggregate is read up to date.
func TestCachedNameStateSeesAnotherProcessesClaim(t *testing.T) {
	p := newTwoProcesses(t, nil)
	if _, _, err := p.a.CreateRole(p.ctx, meta("a-1"), commands.CreateRole{RoleID: "r-a", Name: "Alpha", Type: events.RoleTypeRoot}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.a.UpdateRole(p.ctx, meta("a-2"), commands.UpdateRole{RoleID: "r-a", Name: "Beta"}); err != nil {
		t.Fatal(err) // A now holds "Alpha" released and "Beta" claimed
	}
	if _, _, err := p.b.CreateRole(p.ctx, meta("b-1"), commands.CreateRole{RoleID: "r-b", Name: "Gamma", Type: events.RoleTypeRoot}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.b.UpdateRole(p.ctx, meta("b-2"), commands.UpdateRole{RoleID: "r-b", Name: "Alpha"}); err != nil {
		t.Fatal(err)
	}
	_, err := p.a.UpdateRole(p.ctx, meta("a-3"), commands.UpdateRole{RoleID: "r-a", Name: "Alpha"})
	var taken *commands.NameTakenError
	if !errors.As(err, &taken) {
		t.Fatalf("A took back a name B holds: err = %v, want NameTakenError", err)
	}
}

// barrier is an EventStore whose appends wait until n of them were called
// (bounded in time): n commands that loaded before any of them appended,
// the worst interleaving for a cached state.
type barrier struct {
	commands.EventStore
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (s *barrier) Append(ctx context.Context, batch ...commands.Append) (commands.Stored, error) {
	s.mu.Lock()
	s.arrived++
	if s.arrived == s.n {
		close(s.all)
	}
	s.mu.Unlock()
	select {
	case <-s.all:
	case <-time.After(10 * time.Second): // a command that never appends: go on
	}
	return s.EventStore.Append(ctx, batch...)
}

// Sixteen concurrent expiry changes of one token, all decided on the same
// cached state, store exactly one event: one command succeeds, the others
// conflict; and the next command decides on the winner's state.
func TestConcurrentCommandsOnACachedStateHaveOneWinner(t *testing.T) {
	const n = 16
	var bar *barrier
	p := newTwoProcesses(t, func(s commands.EventStore) commands.EventStore {
		bar = &barrier{EventStore: s, n: 1, all: make(chan struct{})}
		return bar
	})
	p.token(t, "tok-1") // the barrier's single append
	if _, err := p.a.ChangeExpiry(p.ctx, meta("warm"), commands.ChangeExpiry{TokenID: "tok-1", ExpiresAt: inDays(1)}); err != nil {
		t.Fatal(err)
	}
	before := len(p.events(t, events.KindToken, "tok-1"))
	bar.mu.Lock()
	bar.n, bar.arrived, bar.all = n, 0, make(chan struct{})
	bar.mu.Unlock()
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.a.ChangeExpiry(p.ctx, meta(fmt.Sprintf("c-%d", i)), commands.ChangeExpiry{TokenID: "tok-1", ExpiresAt: inDays(10 + i)})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, commands.ErrConflict):
				conflicts.Add(1)
			default:
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	if wins.Load() != 1 || conflicts.Load() != n-1 {
		t.Fatalf("%d won and %d conflicted, want 1 and %d", wins.Load(), conflicts.Load(), n-1)
	}
	evs := p.events(t, events.KindToken, "tok-1")
	if len(evs) != before+1 {
		t.Fatalf("the token got %d events, want 1", len(evs)-before)
	}
	pl, _ := evs[len(evs)-1].Payload()
	winner := *pl.(events.TokenExpiryChanged).New
	if _, err := p.a.ChangeExpiry(p.ctx, meta("next"), commands.ChangeExpiry{TokenID: "tok-1", ExpiresAt: inDays(100)}); err != nil {
		t.Fatal(err)
	}
	evs = p.events(t, events.KindToken, "tok-1")
	pl, _ = evs[len(evs)-1].Payload()
	if prev := pl.(events.TokenExpiryChanged).Previous; prev == nil || !prev.Equal(winner) {
		t.Fatalf("the next change names %v as previous, want the winner's %v", prev, winner)
	}
}

// A command id carried out once is a replay for every process, whatever
// its cache held: a revocation replayed by a process whose cached state
// predates it, and by the process that cached it, reports the first
// sequence and appends nothing (deciding it again would answer ErrGone).
func TestReplayedCommandIDAppliesOnceThroughCachedStates(t *testing.T) {
	p := newTwoProcesses(t, nil)
	p.token(t, "tok-1")
	if _, err := p.b.ChangeExpiry(p.ctx, meta("b-1"), commands.ChangeExpiry{TokenID: "tok-1", ExpiresAt: inDays(1)}); err != nil {
		t.Fatal(err) // B now holds the token's state, before the revocation
	}
	first, err := p.a.RevokeToken(p.ctx, meta("rev-1"), commands.RevokeToken{TokenID: "tok-1", Reason: events.ReasonCompromised})
	if err != nil {
		t.Fatal(err)
	}
	n := len(p.events(t, events.KindToken, "tok-1"))
	for _, h := range []struct {
		name string
		h    *commands.Handler
	}{{"stale cache", p.b}, {"own cache", p.a}, {"stale cache again", p.b}} {
		r, err := h.h.RevokeToken(p.ctx, meta("rev-1"), commands.RevokeToken{TokenID: "tok-1", Reason: events.ReasonCompromised})
		if err != nil {
			t.Fatalf("%s: replay: %v", h.name, err)
		}
		if !r.Replayed || r.Seq != first.Seq {
			t.Fatalf("%s: replay = %+v, want replayed at %d", h.name, r, first.Seq)
		}
	}
	if got := len(p.events(t, events.KindToken, "tok-1")); got != n {
		t.Fatalf("replays appended %d events", got-n)
	}
}

// lagging is an EventStore whose incremental loads answer "nothing new"
// while lag is set: a replica serving Direct Gets that has not applied the
// newest events yet.
type lagging struct {
	commands.EventStore
	lag atomic.Bool
}

func (s *lagging) LoadAfter(ctx context.Context, kind, id string, after uint64) ([]events.Envelope, error) {
	if s.lag.Load() {
		return []events.Envelope{}, nil
	}
	return s.EventStore.LoadAfter(ctx, kind, id, after)
}

// A cached state that misses a revocation (the replica it reads from lags)
// cannot re-scope or extend the revoked token: the append's expectation
// conflicts, the cached state is dropped, and the command is decided again
// on a full load, which refuses it. Nothing is appended.
func TestStaleCachedStateCannotChangeARevokedToken(t *testing.T) {
	var lag *lagging
	p := newTwoProcesses(t, func(s commands.EventStore) commands.EventStore {
		lag = &lagging{EventStore: s}
		return lag
	})
	for i, change := range []func(m commands.Meta) error{
		func(m commands.Meta) error {
			_, err := p.a.ScopeToken(p.ctx, m, commands.ScopeToken{TokenID: "tok-0", Remove: []string{"a"}})
			return err
		},
		func(m commands.Meta) error {
			_, err := p.a.ChangeExpiry(p.ctx, m, commands.ChangeExpiry{TokenID: "tok-1", ExpiresAt: nil})
			return err
		},
	} {
		id := fmt.Sprintf("tok-%d", i)
		p.token(t, id)
		lag.lag.Store(false)
		if _, err := p.a.ChangeExpiry(p.ctx, meta(fmt.Sprintf("warm-%d", i)), commands.ChangeExpiry{TokenID: id, ExpiresAt: inDays(1)}); err != nil {
			t.Fatal(err) // A now holds the live token's state
		}
		if _, err := p.b.RevokeToken(p.ctx, meta(fmt.Sprintf("rev-%d", i)), commands.RevokeToken{TokenID: id, Reason: events.ReasonCompromised}); err != nil {
			t.Fatal(err)
		}
		lag.lag.Store(true)
		before := len(p.events(t, events.KindToken, id))
		if err := change(meta(fmt.Sprintf("stale-%d", i))); !errors.Is(err, commands.ErrGone) {
			t.Fatalf("%s: a change decided on a stale cached state: err = %v, want ErrGone", id, err)
		}
		if after := len(p.events(t, events.KindToken, id)); after != before {
			t.Fatalf("%s: the revoked token got %d events", id, after-before)
		}
	}
}
