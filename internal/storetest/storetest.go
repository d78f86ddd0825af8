package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections"
)

// OpenFunc opens a fresh, empty store for one subtest. Both return values
// may be the same object. Resources are released with t.Cleanup.
type OpenFunc func(t *testing.T) (commands.EventStore, projections.Source)

// testTimeout bounds every subtest's store calls.
const testTimeout = 30 * time.Second

// Run runs the conformance suite against the store opened by open, one
// subtest per behaviour.
func Run(t *testing.T, open func(t *testing.T) (commands.EventStore, projections.Source)) {
	tests := []struct {
		name string
		fn   func(*testing.T, OpenFunc)
	}{
		{"AppendThenLoadRoundTrips", testRoundTrip},
		{"LoadOfUnknownAggregateIsEmpty", testLoadUnknown},
		{"StaleExpectationConflicts", testStaleExpectation},
		{"ConcurrentWritersExactlyOneWins", testConcurrentWriters},
		{"SameMsgIDTwiceStoresOneEvent", testSameMsgID},
		{"BatchWithOneStaleExpectationStoresNothing", testBatchStale},
		{"BatchIsVisibleAllAtOnce", testBatchAtomicVisibility},
		{"RetriedBatchStoresNoDuplicates", testBatchRetry},
		{"ReplayDeliversInOrderWithinBounds", testReplayBounds},
		{"ReplayStopsAtTheFirstError", testReplayError},
		{"FollowDeliversLiveEvents", testFollowLive},
		{"FollowResumesFromSequence", testFollowResume},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// chain builds the sealed events of one aggregate, each linked to the last.
type chain struct {
	tb   testing.TB
	id   string
	last string
}

func newChain(tb testing.TB) *chain { return &chain{tb: tb, id: NewAggregateID()} }

func (c *chain) next(p events.Payload) events.Envelope {
	env := Event(c.tb, c.id, p, c.last)
	c.last = env.Hash
	return env
}

// fork returns an event linked to the current last event without moving
// the chain (a competing writer's event).
func (c *chain) fork(p events.Payload) events.Envelope { return Event(c.tb, c.id, p, c.last) }

func created() events.Payload { return TokenCreated() }
func scoped() events.Payload {
	return events.TokenScoped{Projects: []string{"checkout"}, PreviousProjects: []string{"default", "checkout"}, Cause: "project-deleted:default"}
}
func revoked() events.Payload { return events.TokenRevoked{Reason: events.ReasonRotated} }

// mustAppend appends batch, which must be new (not a duplicate).
func mustAppend(t *testing.T, ctx context.Context, s commands.EventStore, batch ...commands.Append) uint64 {
	t.Helper()
	stored, err := s.Append(ctx, batch...)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if stored.Duplicate {
		t.Fatalf("Append of new events reported a duplicate (sequence %d)", stored.Seq)
	}
	return stored.Seq
}

// mustDuplicate appends batch, which an earlier append with the same
// MsgIDs stored, and returns the sequence the store reports for it.
func mustDuplicate(t *testing.T, ctx context.Context, s commands.EventStore, batch ...commands.Append) uint64 {
	t.Helper()
	stored, err := s.Append(ctx, batch...)
	if err != nil {
		t.Fatalf("retried Append: %v", err)
	}
	if !stored.Duplicate {
		t.Fatalf("retried Append (sequence %d) not reported as a duplicate: the caller would count it as new", stored.Seq)
	}
	return stored.Seq
}

func mustLoad(t *testing.T, ctx context.Context, s commands.EventStore, id string) []events.Envelope {
	t.Helper()
	evs, err := s.Load(ctx, events.KindToken, id)
	if err != nil {
		t.Fatalf("Load(%s): %v", id, err)
	}
	return evs
}

func marshal(t *testing.T, e events.Envelope) []byte {
	t.Helper()
	b, err := events.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantConflict(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, commands.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
}

func testRoundTrip(t *testing.T, open OpenFunc) {
	s, _ := open(t)
	ctx := ctxFor(t)
	c := newChain(t)
	want := []events.Envelope{c.next(created()), c.next(scoped()), c.next(revoked())}
	other := newChain(t)
	var seqs []uint64
	var expected uint64
	for i, e := range want {
		seq := mustAppend(t, ctx, s, commands.Append{Event: e, Expected: expected, MsgID: NewEventID()})
		if i == 0 {
			// An event of another aggregate between them must not show up.
			mustAppend(t, ctx, s, commands.Append{Event: other.next(created()), MsgID: NewEventID()})
		}
		seqs = append(seqs, seq)
		expected = seq
	}
	if !slices.IsSorted(seqs) || seqs[0] == 0 {
		t.Fatalf("sequences %v, want increasing and > 0", seqs)
	}

	got := mustLoad(t, ctx, s, c.id)
	if len(got) != len(want) {
		t.Fatalf("Load returned %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Sequence != seqs[i] {
			t.Errorf("event %d: Sequence = %d, want %d", i, got[i].Sequence, seqs[i])
		}
		if g, w := marshal(t, got[i]), marshal(t, want[i]); !bytes.Equal(g, w) {
			t.Errorf("event %d round trip:\n got %s\nwant %s", i, g, w)
		}
		if !got[i].Time.Equal(want[i].Time) || got[i].Time.Location() != time.UTC {
			t.Errorf("event %d: time %v, want %v in UTC", i, got[i].Time, want[i].Time)
		}
	}
	if err := events.VerifyChain(got); err != nil {
		t.Errorf("VerifyChain: %v", err)
	}
	p, err := got[0].Payload()
	if err != nil {
		t.Fatalf("Payload: %v", err)
	}
	if tc, ok := p.(events.TokenCreated); !ok || tc.Verifier != TokenCreated().Verifier {
		t.Errorf("payload = %#v, want the token.created with its verifier", p)
	}
}

func testLoadUnknown(t *testing.T, open OpenFunc) {
	s, _ := open(t)
	ctx := ctxFor(t)
	mustAppend(t, ctx, s, commands.Append{Event: newChain(t).next(created())})
	evs, err := s.Load(ctx, events.KindToken, NewAggregateID())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(evs) != 0 {
		t.Fatalf("Load returned %d events, want none", len(evs))
	}
}

func testStaleExpectation(t *testing.T, open OpenFunc) {
	tests := []struct {
		name     string
		expected func(createdSeq uint64) uint64
	}{
		{"creating an existing aggregate (expected 0)", func(uint64) uint64 { return 0 }},
		{"expectation older than the last event", func(seq uint64) uint64 { return seq - 1 }},
		{"expectation ahead of the last event", func(seq uint64) uint64 { return seq + 100 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t)
			ctx := ctxFor(t)
			// A first event elsewhere, so that seq-1 is a real sequence.
			mustAppend(t, ctx, s, commands.Append{Event: newChain(t).next(created())})
			c := newChain(t)
			seq := mustAppend(t, ctx, s, commands.Append{Event: c.next(created()), MsgID: NewEventID()})
			_, err := s.Append(ctx, commands.Append{Event: c.fork(created()), Expected: tt.expected(seq), MsgID: NewEventID()})
			wantConflict(t, err)
			if n := len(mustLoad(t, ctx, s, c.id)); n != 1 {
				t.Fatalf("aggregate has %d events after the conflict, want 1", n)
			}
		})
	}
}

func testConcurrentWriters(t *testing.T, open OpenFunc) {
	for _, writers := range []int{2, 8} {
		t.Run(fmt.Sprintf("%d writers", writers), func(t *testing.T) {
			s, _ := open(t)
			ctx := ctxFor(t)
			c := newChain(t)
			seq := mustAppend(t, ctx, s, commands.Append{Event: c.next(created()), MsgID: NewEventID()})
			appends := make([]commands.Append, writers)
			for i := range appends {
				appends[i] = commands.Append{Event: c.fork(revoked()), Expected: seq, MsgID: NewEventID()}
			}
			start := make(chan struct{})
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for i := range appends {
				wg.Go(func() {
					<-start
					_, errs[i] = s.Append(ctx, appends[i])
				})
			}
			close(start)
			wg.Wait()
			var wins, conflicts int
			for i, err := range errs {
				switch {
				case err == nil:
					wins++
				case errors.Is(err, commands.ErrConflict):
					conflicts++
				default:
					t.Errorf("writer %d: unexpected error %v", i, err)
				}
			}
			if wins != 1 || conflicts != writers-1 {
				t.Fatalf("%d successes and %d conflicts, want 1 and %d", wins, conflicts, writers-1)
			}
			evs := mustLoad(t, ctx, s, c.id)
			if len(evs) != 2 {
				t.Fatalf("aggregate has %d events, want 2", len(evs))
			}
			if err := events.VerifyChain(evs); err != nil {
				t.Fatalf("VerifyChain: %v", err)
			}
		})
	}
}

func testSameMsgID(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		// moveOn appends another event after the original (a later command).
		moveOn bool
		// expected of the retry, from the created and original sequences.
		expected func(createdSeq, origSeq uint64) uint64
	}{
		{"retry with the original expectation", false, func(c, _ uint64) uint64 { return c }},
		{"retry with a fresh expectation", false, func(_, o uint64) uint64 { return o }},
		{"retry with the original expectation after another event", true, func(c, _ uint64) uint64 { return c }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t)
			ctx := ctxFor(t)
			c := newChain(t)
			createdSeq := mustAppend(t, ctx, s, commands.Append{Event: c.next(created()), MsgID: NewEventID()})
			cmd := commands.Append{Event: c.next(scoped()), Expected: createdSeq, MsgID: NewEventID()}
			orig := mustAppend(t, ctx, s, cmd)
			want := 2
			if tt.moveOn {
				mustAppend(t, ctx, s, commands.Append{Event: c.next(revoked()), Expected: orig, MsgID: NewEventID()})
				want = 3
			}
			retry := cmd
			retry.Expected = tt.expected(createdSeq, orig)
			if got := mustDuplicate(t, ctx, s, retry); got != orig {
				t.Fatalf("retried Append returned sequence %d, want the original %d", got, orig)
			}
			if n := len(mustLoad(t, ctx, s, c.id)); n != want {
				t.Fatalf("aggregate has %d events, want %d", n, want)
			}
		})
	}

	t.Run("retried create", func(t *testing.T) {
		s, _ := open(t)
		ctx := ctxFor(t)
		c := newChain(t)
		cmd := commands.Append{Event: c.next(created()), MsgID: NewEventID()}
		first := mustAppend(t, ctx, s, cmd)
		if again := mustDuplicate(t, ctx, s, cmd); again != first {
			t.Fatalf("retried create returned %d, want %d", again, first)
		}
		if n := len(mustLoad(t, ctx, s, c.id)); n != 1 {
			t.Fatalf("aggregate has %d events, want 1", n)
		}
	})

	t.Run("another command with a stale expectation still conflicts", func(t *testing.T) {
		s, _ := open(t)
		ctx := ctxFor(t)
		c := newChain(t)
		createdSeq := mustAppend(t, ctx, s, commands.Append{Event: c.next(created()), MsgID: NewEventID()})
		mustAppend(t, ctx, s, commands.Append{Event: c.fork(scoped()), Expected: createdSeq, MsgID: NewEventID()})
		_, err := s.Append(ctx, commands.Append{Event: c.fork(revoked()), Expected: createdSeq, MsgID: NewEventID()})
		wantConflict(t, err)
	})
}

func testBatchStale(t *testing.T, open OpenFunc) {
	tests := []struct {
		name       string
		staleFirst bool
	}{
		{"stale expectation on the last event", false},
		{"stale expectation on the first event", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, src := open(t)
			ctx := ctxFor(t)
			a := newChain(t)
			mustAppend(t, ctx, s, commands.Append{Event: a.next(created()), MsgID: NewEventID()})
			before, err := src.LastSequence(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b := newChain(t)
			fresh := commands.Append{Event: b.next(created()), Expected: 0, MsgID: NewEventID()}
			stale := commands.Append{Event: a.fork(revoked()), Expected: 0, MsgID: NewEventID()} // a exists
			batch := []commands.Append{fresh, stale}
			if tt.staleFirst {
				batch = []commands.Append{stale, fresh}
			}
			_, err = s.Append(ctx, batch...)
			wantConflict(t, err)
			if n := len(mustLoad(t, ctx, s, b.id)); n != 0 {
				t.Fatalf("the batch's fresh aggregate has %d events, want 0", n)
			}
			if n := len(mustLoad(t, ctx, s, a.id)); n != 1 {
				t.Fatalf("the stale aggregate has %d events, want 1", n)
			}
			after, err := src.LastSequence(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("last sequence moved from %d to %d", before, after)
			}
		})
	}
}

func testBatchAtomicVisibility(t *testing.T, open OpenFunc) {
	t.Run("one aggregate", func(t *testing.T) {
		s, _ := open(t)
		ctx := ctxFor(t)
		const rounds = 5
		for range rounds {
			c := newChain(t)
			batch := []commands.Append{
				{Event: c.next(created()), Expected: 0, MsgID: NewEventID()},
				{Event: c.next(scoped()), MsgID: NewEventID()},
				{Event: c.next(revoked()), MsgID: NewEventID()},
			}
			// A reader loads the aggregate while the batch is appended; it
			// must see none or all of the batch.
			stop := make(chan struct{})
			var seen []int
			var readErr error
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					evs, err := s.Load(ctx, events.KindToken, c.id)
					if err != nil {
						readErr = err
						return
					}
					seen = append(seen, len(evs))
					select {
					case <-stop:
						return
					default:
					}
				}
			})
			last := mustAppend(t, ctx, s, batch...)
			close(stop)
			wg.Wait()
			if readErr != nil {
				t.Fatalf("concurrent Load: %v", readErr)
			}
			for _, n := range seen {
				if n != 0 && n != len(batch) {
					t.Fatalf("a reader saw %d of the batch's %d events", n, len(batch))
				}
			}
			evs := mustLoad(t, ctx, s, c.id)
			if len(evs) != len(batch) || evs[len(evs)-1].Sequence != last {
				t.Fatalf("after the batch: %d events; want %d, the last at %d", len(evs), len(batch), last)
			}
			if err := events.VerifyChain(evs); err != nil {
				t.Fatalf("VerifyChain: %v", err)
			}
		}
	})

	t.Run("several aggregates", func(t *testing.T) {
		s, src := open(t)
		ctx := ctxFor(t)
		var chains []*chain
		var batch []commands.Append
		for range 4 {
			c := newChain(t)
			chains = append(chains, c)
			batch = append(batch, commands.Append{Event: c.next(created()), MsgID: NewEventID()})
		}
		last := mustAppend(t, ctx, s, batch...)
		var seqs []uint64
		for i, c := range chains {
			evs := mustLoad(t, ctx, s, c.id)
			if len(evs) != 1 || evs[0].ID != batch[i].Event.ID {
				t.Fatalf("aggregate %d: %d events, want its batch event", i, len(evs))
			}
			seqs = append(seqs, evs[0].Sequence)
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] != seqs[i-1]+1 {
				t.Fatalf("batch sequences %v are not contiguous in batch order", seqs)
			}
		}
		if seqs[len(seqs)-1] != last {
			t.Fatalf("Append returned %d, want the last event's sequence %d", last, seqs[len(seqs)-1])
		}
		if ls, err := src.LastSequence(ctx); err != nil || ls != last {
			t.Fatalf("LastSequence = %d, %v; want %d", ls, err, last)
		}
	})
}

func testBatchRetry(t *testing.T, open OpenFunc) {
	tests := []struct {
		name  string
		fresh bool // retry with expectations updated to the stored events
	}{
		{"retry with the original expectations", false},
		{"retry with fresh expectations", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, src := open(t)
			ctx := ctxFor(t)
			a, b := newChain(t), newChain(t)
			batch := []commands.Append{
				{Event: a.next(created()), MsgID: NewEventID()},
				{Event: a.next(scoped()), MsgID: NewEventID()},
				{Event: b.next(created()), MsgID: NewEventID()},
			}
			first := mustAppend(t, ctx, s, batch...)
			retry := slices.Clone(batch)
			if tt.fresh {
				evA, evB := mustLoad(t, ctx, s, a.id), mustLoad(t, ctx, s, b.id)
				retry[0].Expected = evA[len(evA)-1].Sequence
				retry[2].Expected = evB[len(evB)-1].Sequence
			}
			if again := mustDuplicate(t, ctx, s, retry...); again != first {
				t.Fatalf("retried batch returned %d, want %d", again, first)
			}
			if n := len(mustLoad(t, ctx, s, a.id)); n != 2 {
				t.Fatalf("aggregate a has %d events, want 2", n)
			}
			if n := len(mustLoad(t, ctx, s, b.id)); n != 1 {
				t.Fatalf("aggregate b has %d events, want 1", n)
			}
			if ls, err := src.LastSequence(ctx); err != nil || ls != first {
				t.Fatalf("LastSequence = %d, %v; want %d", ls, err, first)
			}
		})
	}
}

// appendMany appends n events over a few aggregates and returns them in
// stream order with their sequences set.
func appendMany(t *testing.T, ctx context.Context, s commands.EventStore, n int) []events.Envelope {
	t.Helper()
	chains := []*chain{newChain(t), newChain(t), newChain(t)}
	lastSeq := map[*chain]uint64{}
	var out []events.Envelope
	for i := range n {
		c := chains[i%len(chains)]
		var p events.Payload = created()
		if _, ok := lastSeq[c]; ok {
			p = scoped()
		}
		e := c.next(p)
		seq := mustAppend(t, ctx, s, commands.Append{Event: e, Expected: lastSeq[c], MsgID: NewEventID()})
		lastSeq[c] = seq
		e.Sequence = seq
		out = append(out, e)
	}
	return out
}

func collect(t *testing.T, ctx context.Context, src projections.Source, from, to uint64) []events.Envelope {
	t.Helper()
	var got []events.Envelope
	if err := src.Replay(ctx, from, to, func(e events.Envelope) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatalf("Replay(%d, %d): %v", from, to, err)
	}
	return got
}

func testReplayBounds(t *testing.T, open OpenFunc) {
	s, src := open(t)
	ctx := ctxFor(t)
	all := appendMany(t, ctx, s, 10)
	first, last := all[0].Sequence, all[len(all)-1].Sequence
	if ls, err := src.LastSequence(ctx); err != nil || ls != last {
		t.Fatalf("LastSequence = %d, %v; want %d", ls, err, last)
	}
	between := func(lo, hi uint64) []events.Envelope {
		var out []events.Envelope
		for _, e := range all {
			if e.Sequence >= lo && e.Sequence <= hi {
				out = append(out, e)
			}
		}
		return out
	}
	tests := []struct {
		name     string
		from, to uint64
		want     []events.Envelope
	}{
		{"everything from 0", 0, last, all},
		{"everything from the first", first, last, all},
		{"a middle range", all[2].Sequence, all[5].Sequence, between(all[2].Sequence, all[5].Sequence)},
		{"a single event", all[4].Sequence, all[4].Sequence, all[4:5]},
		{"to beyond the newest stops at the newest", all[7].Sequence, last + 100, all[7:]},
		{"from beyond the newest delivers nothing", last + 1, last + 10, nil},
		{"to before from delivers nothing", all[5].Sequence, all[2].Sequence, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collect(t, ctx, src, tt.from, tt.to)
			if len(got) != len(tt.want) {
				t.Fatalf("Replay(%d, %d) delivered %d events, want %d", tt.from, tt.to, len(got), len(tt.want))
			}
			for i := range got {
				if got[i].Sequence != tt.want[i].Sequence || got[i].ID != tt.want[i].ID {
					t.Fatalf("event %d: seq %d id %s, want seq %d id %s", i, got[i].Sequence, got[i].ID, tt.want[i].Sequence, tt.want[i].ID)
				}
				if !bytes.Equal(marshal(t, got[i]), marshal(t, tt.want[i])) {
					t.Fatalf("event %d at %d does not round-trip", i, got[i].Sequence)
				}
			}
		})
	}
}

func testReplayError(t *testing.T, open OpenFunc) {
	s, src := open(t)
	ctx := ctxFor(t)
	all := appendMany(t, ctx, s, 6)
	boom := errors.New("boom")
	var calls int
	err := src.Replay(ctx, 0, all[len(all)-1].Sequence, func(events.Envelope) error {
		calls++
		if calls == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Replay returned %v, want fn's error", err)
	}
	if calls != 3 {
		t.Fatalf("fn was called %d times, want 3 (none after its error)", calls)
	}
}

// follower runs Follow in a goroutine and hands its events over a channel.
type follower struct {
	events chan events.Envelope
	done   chan error
	cancel context.CancelFunc
}

func startFollow(t *testing.T, src projections.Source, from uint64, fnErr func(events.Envelope) error) *follower {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	f := &follower{events: make(chan events.Envelope, 100), done: make(chan error, 1), cancel: cancel}
	go func() {
		f.done <- src.Follow(ctx, from, func(e events.Envelope) error {
			if fnErr != nil {
				if err := fnErr(e); err != nil {
					return err
				}
			}
			f.events <- e
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-f.done:
		case <-time.After(testTimeout):
			t.Error("Follow did not return after its context was cancelled")
		}
	})
	return f
}

func (f *follower) expect(t *testing.T, want []events.Envelope) {
	t.Helper()
	for i, w := range want {
		var got events.Envelope
		select {
		case got = <-f.events:
		case err := <-f.done:
			// Follow may have returned (fn's error) after delivering this
			// event: select picks among ready cases at random, so take a
			// delivered event before concluding it is missing.
			f.done <- err
			select {
			case got = <-f.events:
			default:
				t.Fatalf("Follow returned %v before event %d", err, i)
			}
		case <-time.After(testTimeout):
			t.Fatalf("event %d (seq %d) not delivered within %s", i, w.Sequence, testTimeout)
		}
		if got.Sequence != w.Sequence || got.ID != w.ID {
			t.Fatalf("follow event %d: seq %d id %s, want seq %d id %s", i, got.Sequence, got.ID, w.Sequence, w.ID)
		}
	}
}

func testFollowLive(t *testing.T, open OpenFunc) {
	s, src := open(t)
	ctx := ctxFor(t)
	old := appendMany(t, ctx, s, 2)
	f := startFollow(t, src, old[len(old)-1].Sequence+1, nil)
	live := appendMany(t, ctx, s, 5)
	f.expect(t, live)
	select {
	case e := <-f.events:
		t.Fatalf("unexpected extra event at %d", e.Sequence)
	default:
	}
	f.cancel()
	select {
	case err := <-f.done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow returned %v after cancel, want context.Canceled", err)
		}
		f.done <- err // for the cleanup
	case <-time.After(testTimeout):
		t.Fatal("Follow did not return after cancel")
	}
}

func testFollowResume(t *testing.T, open OpenFunc) {
	s, src := open(t)
	ctx := ctxFor(t)
	all := appendMany(t, ctx, s, 5)
	f := startFollow(t, src, all[2].Sequence, nil)
	f.expect(t, all[2:])
	more := appendMany(t, ctx, s, 2)
	f.expect(t, more)

	t.Run("fn's error stops Follow", func(t *testing.T) {
		boom := errors.New("boom")
		g := startFollow(t, src, all[1].Sequence, func(e events.Envelope) error {
			if e.Sequence == all[3].Sequence {
				return boom
			}
			return nil
		})
		g.expect(t, all[1:3])
		select {
		case err := <-g.done:
			if !errors.Is(err, boom) {
				t.Fatalf("Follow returned %v, want fn's error", err)
			}
			g.done <- err
		case <-time.After(testTimeout):
			t.Fatal("Follow did not return fn's error")
		}
	})
}
