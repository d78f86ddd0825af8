package tokenset_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

const benchTokens = 100_000

// benchSecret is the i-th benchmark secret, generated shape.
func benchSecret(i int) string { return fmt.Sprintf("default:development.%064x", i*7919+1) }

var bench struct {
	once  sync.Once
	set   *tokenset.Set
	floor map[[32]byte]int // the same keys in a bare Go map
	// floorTok maps the same keys to copies of the tokens, allocated in
	// creation order like the Set's.
	floorTok map[[32]byte]*tokenset.Token
	// The secrets in creation order (which is also the tokens' memory
	// order, friendly to the prefetcher) and in a random order (each
	// verification a cache miss on token memory, as uniform traffic over
	// 100,000 tokens would be).
	orders []benchOrder
}

type benchOrder struct {
	name    string
	secrets []string
}

// benchSet is a Set of 100,000 client tokens, built once per test binary.
func benchSet(b *testing.B) (*tokenset.Set, []benchOrder, map[[32]byte]int) {
	b.Helper()
	benchBuild(b)
	return bench.set, bench.orders, bench.floor
}

func benchBuild(b *testing.B) {
	b.Helper()
	bench.once.Do(func() {
		s := tokenset.New()
		secrets := make([]string, benchTokens)
		floor := make(map[[32]byte]int, benchTokens)
		for i := range secrets {
			secrets[i] = benchSecret(i)
			floor[events.Verifier(secrets[i])] = i
			if err := s.Apply(ev(b, uint64(i+1), fmt.Sprintf("tok-%d", i), created(secrets[i], "default"))); err != nil {
				panic(err)
			}
		}
		random := slices.Clone(secrets)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(random), func(i, j int) { random[i], random[j] = random[j], random[i] })
		floorTok := make(map[[32]byte]*tokenset.Token, benchTokens)
		for _, sec := range secrets {
			t, _ := s.Lookup(sec)
			floorTok[events.Verifier(sec)] = &t
		}
		bench.set, bench.floor, bench.floorTok = s, floor, floorTok
		bench.orders = []benchOrder{{"created_order", secrets}, {"random_order", random}}
	})
}

// BenchmarkVerify verifies known secrets of a 100,000-token set with
// Set.Check (the token by value, as the HTTP server verifies).
func BenchmarkVerify(b *testing.B) {
	s, orders, _ := benchSet(b)
	now := at(1)
	for _, o := range orders {
		b.Run(o.name, func(b *testing.B) {
			secrets := o.secrets
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, st := s.Check(secrets[i%len(secrets)], now); st != tokenset.Valid {
					b.Fatal(st)
				}
			}
		})
	}
}

// BenchmarkFloorSHA256MapProbe is the floor under BenchmarkVerify: the
// verifier hash and a probe of a bare Go map with the same keys; no token
// is read, no lock, no copy, no compare.
func BenchmarkFloorSHA256MapProbe(b *testing.B) {
	_, orders, floor := benchSet(b)
	for _, o := range orders {
		b.Run(o.name, func(b *testing.B) {
			secrets := o.secrets
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, ok := floor[events.Verifier(secrets[i%len(secrets)])]; !ok {
					b.Fatal("missing")
				}
			}
		})
	}
}

// BenchmarkFloorSHA256MapProbeCopy is a second floor: hash, probe of a bare
// Go map, and a copy of the token found (what returning a Token by value
// costs when token memory is not in cache), with no lock, compare or status.
func BenchmarkFloorSHA256MapProbeCopy(b *testing.B) {
	_, orders, _ := benchSet(b)
	var sink tokenset.Token
	for _, o := range orders {
		b.Run(o.name, func(b *testing.B) {
			secrets := o.secrets
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p, ok := bench.floorTok[events.Verifier(secrets[i%len(secrets)])]
				if !ok {
					b.Fatal("missing")
				}
				sink = *p
			}
		})
	}
	_ = sink
}

// BenchmarkVerifyParallel is BenchmarkVerify from GOMAXPROCS goroutines.
func BenchmarkVerifyParallel(b *testing.B) {
	s, orders, _ := benchSet(b)
	now := at(1)
	for _, o := range orders {
		b.Run(o.name, func(b *testing.B) {
			secrets := o.secrets
			var worker atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(worker.Add(1)) * 7777
				for pb.Next() {
					if _, st := s.Check(secrets[i%len(secrets)], now); st != tokenset.Valid {
						b.Error(st)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkFloorSHA256MapProbeParallel is the floor of
// BenchmarkVerifyParallel.
func BenchmarkFloorSHA256MapProbeParallel(b *testing.B) {
	_, orders, floor := benchSet(b)
	for _, o := range orders {
		b.Run(o.name, func(b *testing.B) {
			secrets := o.secrets
			var worker atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(worker.Add(1)) * 7777
				for pb.Next() {
					if _, ok := floor[events.Verifier(secrets[i%len(secrets)])]; !ok {
						b.Error("missing")
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkApply applies token.created events into a set; ns/op is the cost
// of one event, so 1e9/ns is events per second. The set is renewed every
// 100,000 events (untimed) to bound memory.
func BenchmarkApply(b *testing.B) {
	const pool = benchTokens
	evs := make([]events.Envelope, pool)
	for i := range evs {
		evs[i] = ev(b, 1, fmt.Sprintf("0193a000-0000-7000-8000-%012d", i), created(benchSecret(i), "default"))
	}
	s := tokenset.New()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % pool
		if j == 0 && i > 0 {
			b.StopTimer()
			s = tokenset.New()
			b.StartTimer()
		}
		e := evs[j]
		e.Sequence = uint64(j + 1)
		if err := s.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyScope is BenchmarkVerify followed by what /edge/validate
// reads of the token it gets: type, environment and project scope. The
// reads are part of the cost whether the token set hands out a pointer or
// a copy.
func BenchmarkVerifyScope(b *testing.B) {
	s, orders, _ := benchSet(b)
	now := at(1)
	for _, o := range orders {
		b.Run(o.name, func(b *testing.B) {
			secrets := o.secrets
			n := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				t, st := s.Check(secrets[i%len(secrets)], now)
				if st != tokenset.Valid {
					b.Fatal(st)
				}
				n += len(t.Type) + len(t.Environment) + len(t.Projects) + len(t.Projects[0])
				if t.AllProjects {
					n++
				}
			}
			if n == 0 {
				b.Fatal("no scope read")
			}
		})
	}
}
