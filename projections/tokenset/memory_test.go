package tokenset_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// decoded is ev with the envelope's strings in fresh memory, as decoding
// an event from the stream gives them (the payload is decoded by Apply).
func decoded(tb testing.TB, seq uint64, id string, p events.Payload) events.Envelope {
	env := ev(tb, seq, strings.Clone(id), p)
	env.Actor = events.Actor{Kind: strings.Clone(env.Actor.Kind), ID: strings.Clone(env.Actor.ID), Name: strings.Clone(env.Actor.Name)}
	return env
}

// Tokens hold one copy of the values they repeat (type, environment,
// path, project list, creator), not one per token, whether applied from
// events or restored from a snapshot: the token set's memory grows with
// what is unique to each token only.
func TestTokensShareTheValuesTheyRepeat(t *testing.T) {
	applied := tokenset.New()
	for i := range 3 {
		mustApply(t, applied, decoded(t, uint64(i+1), fmt.Sprint("tok-", i), created(secret("default", "development", i), "default", "web")))
	}
	mustApply(t, applied, decoded(t, 4, "tok-0", events.TokenScoped{Projects: []string{"default", "web"}}))
	restored := tokenset.New()
	if err := restored.RestoreSnapshot(applied.AppendSnapshot(nil)); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*tokenset.Set{"applied": applied, "restored": restored} {
		t.Run(name, func(t *testing.T) {
			a, _ := s.ByID("tok-0")
			for _, id := range []string{"tok-1", "tok-2"} {
				b, _ := s.ByID(id)
				same := map[string][2]string{"type": {a.Type, b.Type}, "environment": {a.Environment, b.Environment}, "path": {a.Path, b.Path},
					"creator kind": {a.CreatedBy.Kind, b.CreatedBy.Kind}, "creator id": {a.CreatedBy.ID, b.CreatedBy.ID}, "project": {a.Projects[0], b.Projects[0]}}
				for what, v := range same {
					if v[0] != v[1] || unsafe.StringData(v[0]) != unsafe.StringData(v[1]) {
						t.Errorf("%s of tok-0 and %s: %q and %q are separate copies", what, id, v[0], v[1])
					}
				}
				if &a.Projects[0] != &b.Projects[0] {
					t.Errorf("tok-0 and %s hold separate copies of the project list %v", id, a.Projects)
				}
			}
		})
	}
}

// heapBudget is the live heap a Set may hold per token (issue 16's budget
// at 100,000 and 1,000,000 tokens).
const heapBudget = 400

// heapPerToken is the live heap that n client tokens applied into a Set
// hold, per token: what the Set keeps of the decoded events it applied.
func heapPerToken(tb testing.TB, n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	envs := make([]events.Envelope, n)
	for i := range envs {
		envs[i] = decoded(tb, uint64(i+1), fmt.Sprintf("%08d-0000-7000-8000-%012d", i, i), created(secret("default", "development", i), "default"))
	}
	s := tokenset.New()
	for _, e := range envs {
		if err := s.Apply(e); err != nil {
			tb.Fatal(err)
		}
	}
	envs = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(s)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// A Set's memory is what its tokens need, not a heap object per field: a
// token costs at most the budget's bytes of live heap.
func TestTokenSetHeapPerTokenIsWithinBudget(t *testing.T) {
	if got := heapPerToken(t, 20_000); got > heapBudget {
		t.Errorf("a Set of 20,000 tokens holds %.0f B of heap per token, budget %d B", got, heapBudget)
	}
}

// BenchmarkSetHeapPerToken is the live heap a Set holds per token (client
// tokens with one project, each created by its own decoded event), beside
// the same tokens in a bare Go map from verifier to Token (no indexes, no
// verification table, no sharing): what holding the tokens at all costs.
// The budget is 400 B per token (heapBudget) at 100,000 and 1,000,000.
//
//	go test -run '^$' -bench '^BenchmarkSetHeapPerToken$' -benchtime 1x ./projections/tokenset/
func BenchmarkSetHeapPerToken(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		var envs []events.Envelope
		build := func() {
			envs = make([]events.Envelope, n)
			for i := range envs {
				envs[i] = decoded(b, uint64(i+1), fmt.Sprintf("%08d-0000-7000-8000-%012d", i, i), created(secret("default", "development", i), "default"))
			}
		}
		measure := func(b *testing.B, hold func() any) {
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				build()
				kept := hold()
				envs = nil
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "B/token")
				runtime.KeepAlive(kept)
			}
		}
		b.Run(fmt.Sprintf("tokens=%d/set", n), func(b *testing.B) {
			measure(b, func() any {
				s := tokenset.New()
				for _, e := range envs {
					if err := s.Apply(e); err != nil {
						b.Fatal(err)
					}
				}
				return s
			})
		})
		if n > 100_000 {
			continue // the peer's shape is known by 100,000; 1,000,000 of them take minutes
		}
		b.Run(fmt.Sprintf("tokens=%d/peer_bare_map", n), func(b *testing.B) {
			measure(b, func() any {
				s := tokenset.New() // decodes each payload as the set does, then keeps a copy
				m := make(map[[32]byte]tokenset.Token, n)
				for _, e := range envs {
					if err := s.Apply(e); err != nil {
						b.Fatal(err)
					}
					t, _ := s.ByCreatedSeq(e.Sequence)
					t.ID, t.Name, t.Hint = strings.Clone(t.ID), strings.Clone(t.Name), strings.Clone(t.Hint)
					t.Type, t.Environment, t.Path = strings.Clone(t.Type), strings.Clone(t.Environment), strings.Clone(t.Path)
					t.Projects = []string{strings.Clone(t.Projects[0])}
					m[t.Verifier()] = t
				}
				return m
			})
		})
	}
}
