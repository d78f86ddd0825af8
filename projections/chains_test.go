package projections_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// An attacker with a NATS connection cannot forge the ledger's signature,
// but can publish a genuine event of the stream again (or append one that
// names a predecessor its aggregate does not end with). The Runner must
// refuse such an event before any projection applies it: a copy of the
// token.expiry-changed that once gave a token a year would otherwise give
// it that year again.
func TestRunnerRefusesAnEventThatDoesNotFollowItsAggregate(t *testing.T) {
	for _, tt := range []struct {
		name string
		// evil returns the stored bytes to publish again, under their
		// own subject, given the ledger and a token with three events.
		evil func(t *testing.T, l *ledger, id string) (subject string, data []byte)
	}{
		{"copy_of_an_earlier_event", func(t *testing.T, l *ledger, id string) (string, []byte) {
			return copyOf(t, l, id, 1) // its expiry change, which has a successor
		}},
		{"copy_of_the_aggregates_last_event", func(t *testing.T, l *ledger, id string) (string, []byte) {
			return copyOf(t, l, id, 2)
		}},
		{"copy_of_its_first_event", func(t *testing.T, l *ledger, id string) (string, []byte) {
			return copyOf(t, l, id, 0)
		}},
		{"event_naming_a_predecessor_of_an_aggregate_without_events", func(t *testing.T, l *ledger, id string) (string, []byte) {
			env, err := events.New(storetest.NewEventID(), storetest.NewAggregateID(), events.TokenRevoked{Reason: events.ReasonDeleted}, eventTime(99))
			if err != nil {
				t.Fatal(err)
			}
			env.Prev = l.prev[id]
			if err := env.Seal(); err != nil {
				t.Fatal(err)
			}
			b, err := events.Marshal(&env)
			if err != nil {
				t.Fatal(err)
			}
			return env.Subject(), b
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := natstest.RunServer(t)
			l := newLedgerAt(t, srv)
			l.mixed(12)
			id, _ := l.token("alpha")
			exp := eventTime(500)
			l.append(id, events.TokenExpiryChanged{New: &exp})
			l.append(id, events.TokenRevoked{Reason: events.ReasonDeleted})
			l.mixed(len(l.sent) + 3)
			honest := append([]events.Envelope(nil), l.sent...)

			subject, data := tt.evil(t, l, id)
			js, err := jetstream.New(natstest.Connect(t, srv))
			if err != nil {
				t.Fatal(err)
			}
			ack, err := js.Publish(ctxFor(t), subject, data)
			if err != nil {
				t.Fatal(err)
			}
			l.mixed(len(l.sent) + 2) // honest events after it are not applied either

			set := tokenset.New()
			r := projections.NewRunner(l.store, set)
			r.Chains = projections.NewChains()
			_, done := start(t, r)
			err = done()
			te := events.AsTamper(err)
			if te == nil || te.Seq != ack.Sequence || te.Kind != events.TamperChain {
				t.Fatalf("Run = %v, want a %s TamperError at the published event's sequence %d", err, events.TamperChain, ack.Sequence)
			}
			if r.LastApplied() != ack.Sequence-1 || set.LastApplied() != ack.Sequence-1 {
				t.Errorf("applied to %d (token set %d), want %d: the event before the refused one", r.LastApplied(), set.LastApplied(), ack.Sequence-1)
			}
			if got, want := set.Digest(), digestOf(t, honest); got != want {
				t.Errorf("the token set is not the state of the honest events before the refused one")
			}
		})
	}
}

// copyOf is the stored form of the n-th event (0-based) of aggregate id.
func copyOf(t *testing.T, l *ledger, id string, n int) (string, []byte) {
	t.Helper()
	for _, env := range l.sent {
		if env.AggregateID != id {
			continue
		}
		if n--; n < 0 {
			env.Sequence = 0
			b, err := events.Marshal(&env)
			if err != nil {
				t.Fatal(err)
			}
			return env.Subject(), b
		}
	}
	t.Fatalf("aggregate %s has not that many events", id)
	return "", nil
}

// A resumed ledger (from the snapshot of its projections) checks chains
// as if it had replayed every event: the snapshot carries each
// aggregate's last hash, whatever the form of its id.
func TestChainsSnapshotResumesTheCheck(t *testing.T) {
	c := projections.NewChains()
	g := chainGen{}
	ids := []struct{ kind, id string }{
		{events.KindToken, "0193a5b2-0000-7000-8000-000000000001"},       // a UUID
		{events.KindName, "0123456789abcdef0123456789abcdef"},            // a name: 32 hex digits
		{events.KindProject, "default"},                                  // anything else
		{events.KindToken, "0193A5B2-0000-7000-8000-000000000001"},       // not canonical: another id
		{events.KindUser, "0193a5b2-0000-7000-8000-000000000001"},        // same UUID, another kind
		{events.KindName, "0123456789ABCDEF0123456789abcdef"},            // not canonical hex
		{events.KindEnvironment, "0193a5b2x0000-7000-8000-000000000001"}, // 36 characters, not a UUID
	}
	for round := range 3 {
		for _, a := range ids {
			if err := c.Apply(g.next(a.kind, a.id)); err != nil {
				t.Fatalf("round %d, %s %s: %v", round, a.kind, a.id, err)
			}
		}
	}
	snap, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := projections.NewChains()
	if err := r.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	again, _ := r.MarshalBinary()
	if !bytes.Equal(snap, again) || r.LastApplied() != c.LastApplied() || r.Len() != len(ids) {
		t.Fatalf("restored: %d aggregates at %d, encoding equal %v; want %d at %d", r.Len(), r.LastApplied(), bytes.Equal(snap, again), len(ids), c.LastApplied())
	}
	for _, a := range ids {
		old := g.copyOfEarlier(a.kind, a.id)
		if err := r.Apply(old); events.AsTamper(err) == nil {
			t.Errorf("%s %s: the restored Chains accepted a copy of an earlier event: %v", a.kind, a.id, err)
		}
		if err := r.Apply(g.next(a.kind, a.id)); err != nil {
			t.Errorf("%s %s: the restored Chains refused the genuine next event: %v", a.kind, a.id, err)
		}
	}
}

// A snapshot that is cut short or altered is refused without a panic, and
// the state is left as it was.
func TestChainsRefuseABrokenSnapshot(t *testing.T) {
	c := projections.NewChains()
	g := chainGen{}
	for i := range 5 {
		for _, id := range []string{fmt.Sprintf("0193a5b2-0000-7000-8000-00000000000%d", i), fmt.Sprintf("name-%d", i)} {
			if err := c.Apply(g.next(events.KindToken, id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	snap, _ := c.MarshalBinary()
	target := projections.NewChains()
	before, _ := target.MarshalBinary()
	for n := range len(snap) {
		if err := target.UnmarshalBinary(snap[:n]); err == nil {
			t.Fatalf("accepted the snapshot cut to %d of %d bytes", n, len(snap))
		}
	}
	if err := target.UnmarshalBinary(append(bytes.Clone(snap), 0)); err == nil {
		t.Fatal("accepted the snapshot with a byte after its end")
	}
	huge := binary.AppendUvarint(binary.AppendUvarint(binary.AppendUvarint(nil, 1), 7), 1<<60)
	if err := target.UnmarshalBinary(huge); err == nil {
		t.Fatal("accepted a count the bytes cannot hold")
	}
	if after, _ := target.MarshalBinary(); !bytes.Equal(before, after) {
		t.Fatal("a refused snapshot changed the state")
	}
}

// A refused event changes nothing: the aggregate's genuine next event is
// still accepted, and events at or below LastApplied are not checked
// again (a Runner resumes from the lowest projection).
func TestChainsRefusalChangesNothing(t *testing.T) {
	c := projections.NewChains()
	g := chainGen{}
	id := "0193a5b2-0000-7000-8000-000000000001"
	first := g.next(events.KindToken, id)
	if err := c.Apply(first); err != nil {
		t.Fatal(err)
	}
	second := g.next(events.KindToken, id)
	bad := second
	bad.Prev = g.hash(12345)
	if err := c.Apply(bad); events.AsTamper(err) == nil || events.AsTamper(err).Seq != bad.Sequence {
		t.Fatalf("Apply(a wrong prev) = %v, want a TamperError at %d", err, bad.Sequence)
	}
	if err := c.Apply(second); err != nil {
		t.Fatalf("the genuine event after a refused one: %v", err)
	}
	if err := c.Apply(first); err != nil {
		t.Fatalf("an event at or below LastApplied: %v, want it ignored", err)
	}
	var te *events.TamperError
	if err := c.Apply(g.copyOfEarlier(events.KindToken, id)); !errors.As(err, &te) || te.Kind != events.TamperChain {
		t.Fatalf("Apply(a copy) = %v, want a %s TamperError", err, events.TamperChain)
	}
}

// TestChainsMemoryPerToken measures the chain state of 100,000 tokens of
// two events each (runtime.MemStats, after a GC, in one process): it must
// stay within the heap budget of issue 14/16 (≤ 150 B per event beside the
// live token set). It logs the figure the README gives.
func TestChainsMemoryPerToken(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 aggregates")
	}
	const n = 100_000
	g := chainGen{}
	id := func(i int) string { return fmt.Sprintf("0193a5b2-0000-7000-8000-%012x", i) }
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := projections.NewChains()
	seq := uint64(0)
	for round := range 2 { // each token's creation, then a second event
		for i := range n {
			seq++
			env := events.Envelope{Type: events.TypeTokenRevoked, AggregateKind: events.KindToken, AggregateID: id(i),
				Hash: g.hash(2*i + round), Sequence: seq}
			if round == 1 {
				env.Prev = g.hash(2 * i)
			}
			if err := c.Apply(env); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	runtime.KeepAlive(c)
	t.Logf("chain state: %.1f bytes per token (%d tokens, %d events)", per, c.Len(), seq)
	if per > 75 {
		t.Errorf("chain state costs %.1f bytes per token, want at most 75 (half the per-event budget of a token's two events)", per)
	}
}

// chainGen makes sealed-looking events of well-chained aggregates (hashes
// are distinct hex strings; Chains never recomputes them).
type chainGen struct {
	seq  uint64
	n    int
	hist map[string][]events.Envelope // kind/id → its events
}

func (g *chainGen) hash(i int) string {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))
	return hex.EncodeToString(sum[:])
}

func (g *chainGen) next(kind, id string) events.Envelope {
	if g.hist == nil {
		g.hist = map[string][]events.Envelope{}
	}
	key := kind + "/" + id
	prev := ""
	if h := g.hist[key]; len(h) > 0 {
		prev = h[len(h)-1].Hash
	}
	g.seq++
	g.n++
	env := events.Envelope{ID: fmt.Sprint("e", g.n), Type: kind + ".changed", AggregateKind: kind, AggregateID: id,
		Prev: prev, Hash: g.hash(g.n), Sequence: g.seq}
	if g.hist[key] = append(g.hist[key], env); len(g.hist[key]) > 4 {
		g.hist[key] = g.hist[key][len(g.hist[key])-4:] // the recent ones are enough
	}
	return env
}

// copyOfEarlier is a copy, at the next sequence, of the aggregate's event
// before its last.
func (g *chainGen) copyOfEarlier(kind, id string) events.Envelope {
	h := g.hist[kind+"/"+id]
	env := h[len(h)-2]
	g.seq++
	env.Sequence = g.seq
	return env
}
