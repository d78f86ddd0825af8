package tokenset_test

import (
	"fmt"
	"testing"

	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// The state digest of a large set is computed in chunks, each under the
// read lock, so an event can be applied while a digest is under way (at a
// million tokens Digest held the lock ~0.5 s, and every apply waited); a
// digest across such an apply reports that it does not describe one state,
// and one without equals Digest.
func TestDigestYieldingLetsAnApplyInBetweenAndRefusesTheMixedState(t *testing.T) {
	for _, n := range []int{0, 1, tokenset.DigestChunk, 2*tokenset.DigestChunk + 3} {
		t.Run(fmt.Sprint(n, " tokens"), func(t *testing.T) {
			s := tokenset.New()
			for i := range n {
				seq := uint64(i + 1)
				if err := s.Apply(ev(t, seq, fmt.Sprint("tok-", i), created(secret("default", "development", i)))); err != nil {
					t.Fatal(err)
				}
			}
			want := s.Digest()
			got, seq, ok := s.DigestYielding()
			if !ok || got != want || seq != uint64(n) {
				t.Fatalf("DigestYielding = %q at %d (ok %v), want Digest %q at %d", got, seq, ok, want, n)
			}

			applied := false
			s.BetweenDigestChunks(func() {
				if applied {
					return
				}
				applied = true
				// Deadlocks if the digest held the lock across chunks.
				if err := s.Apply(ev(t, uint64(n+1), "tok-late", created(secret("default", "development", n)))); err != nil {
					t.Error(err)
				}
			})
			_, _, ok = s.DigestYielding()
			if n > tokenset.DigestChunk {
				if !applied || ok {
					t.Fatalf("an apply between chunks: applied %v, digest ok %v; want the apply done and the digest refused", applied, ok)
				}
			} else if !ok || applied {
				t.Fatalf("one chunk: ok %v, applied in between %v", ok, applied)
			}
			s.BetweenDigestChunks(nil)
			got, seq, ok = s.DigestYielding()
			if want := s.Digest(); !ok || got != want || seq != s.LastApplied() {
				t.Fatalf("after the apply: DigestYielding = %q at %d (ok %v), want %q at %d", got, seq, ok, want, s.LastApplied())
			}
		})
	}
}
