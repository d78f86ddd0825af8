package tokenset

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The tokens that may still expire are a bit per token: whatever the
// adds and removes, each lists exactly the tokens added and not removed
// since, ascending, as the map it replaced held them.
func TestPendingSetHoldsWhatAMapWould(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  uint32
		ops  int
	}{
		{"one word", 64, 500},
		{"across words", 1000, 5000},
		{"sparse, high indexes", 1 << 20, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.max)))
			var p pendingSet
			want := map[uint32]bool{}
			for range tc.ops {
				i := rng.Uint32N(tc.max)
				if rng.IntN(3) == 0 {
					p.remove(i)
					delete(want, i)
				} else {
					p.add(i)
					want[i] = true
				}
			}
			var got []uint32
			p.each(func(i uint32) { got = append(got, i) })
			var w []uint32
			for i := range want {
				w = append(w, i)
			}
			slices.Sort(w)
			if !slices.Equal(got, w) {
				t.Fatalf("each: %d tokens, want %d", len(got), len(w))
			}
		})
	}
}

// A replay's Grow sizes the set once: adding a token within it then
// never allocates (the map it replaced rehashed as it grew).
func TestPendingSetAddsWithoutAllocatingAfterReserve(t *testing.T) {
	var p pendingSet
	p.reserve(1 << 16)
	i := uint32(0)
	if n := testing.AllocsPerRun(1000, func() {
		p.add(i)
		i += 61
	}); n != 0 {
		t.Errorf("add after reserve allocates %v times", n)
	}
}
