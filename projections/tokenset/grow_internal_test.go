package tokenset

import (
	"fmt"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// A replay told how many events follow (Grow, from the Runner) sizes the
// indexes once: applying that many creations rebuilds none of them, on
// an empty Set and on one that holds tokens already, and every token is
// found by id and verifies by its secret afterwards.
func TestGrowSizesTheIndexesOnceForAReplay(t *testing.T) {
	for _, c := range []struct {
		name        string
		before, add int
	}{
		{"empty set", 0, 3000},
		{"set with tokens", 700, 3000},
		{"more than the smallest table", 0, 40},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			seq := uint64(0)
			create := func(n int) {
				for range n {
					seq++
					p := events.TokenCreated{TokenType: events.TokenClient, Name: fmt.Sprint("name-", seq),
						Environment: "development", Path: events.PathAdminAPI, Verifier: events.VerifierHex(growSecret(seq))}
					env, err := events.New(fmt.Sprintf("01GROW%020d", seq), fmt.Sprintf("tok-%d", seq), p, time.Unix(int64(seq), 0))
					if err != nil {
						t.Fatal(err)
					}
					env.Sequence = seq
					if err := s.Apply(env); err != nil {
						t.Fatalf("apply seq %d: %v", seq, err)
					}
				}
			}
			create(c.before)
			s.Grow(c.add)
			vx, byID, byName := vxSlots(s), len(s.byID.slots), len(s.byName.slots)
			create(c.add)
			if got := vxSlots(s); got != vx {
				t.Errorf("the verifier index was rebuilt: %d slots, %d after Grow", got, vx)
			}
			if got := len(s.byID.slots); got != byID {
				t.Errorf("the id index was rebuilt: %d slots, %d after Grow", got, byID)
			}
			if got := len(s.byName.slots); got != byName {
				t.Errorf("the name index was rebuilt: %d slots, %d after Grow", got, byName)
			}
			for i := uint64(1); i <= seq; i++ {
				if _, ok := s.ByID(fmt.Sprintf("tok-%d", i)); !ok {
					t.Fatalf("token %d not found by id", i)
				}
				if tok, ok := s.Lookup(growSecret(i)); !ok || tok.ID != fmt.Sprintf("tok-%d", i) {
					t.Fatalf("secret %d verifies as %q, %v", i, tok.ID, ok)
				}
			}
		})
	}
}

func growSecret(n uint64) string { return fmt.Sprintf("default:development.%064x", n) }

// vxSlots is the size of s's verifier index (0 before its first table).
func vxSlots(s *Set) int {
	if tab := s.vx.tab.Load(); tab != nil {
		return len(tab.slots)
	}
	return 0
}
