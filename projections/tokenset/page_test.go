package tokenset_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Walking the set a page at a time yields every token of All, in the same
// order, whatever the page size.
func TestAppendRangeWalksAllInCreationOrder(t *testing.T) {
	var evs []events.Envelope
	for i := range 23 {
		evs = append(evs, ev(t, uint64(2*i+1), fmt.Sprint("tok-", i), created(secret("default", "development", i))))
		if i%3 == 0 {
			evs = append(evs, ev(t, uint64(2*i+2), fmt.Sprint("tok-", i), events.TokenRevoked{Reason: events.ReasonDeleted}))
		}
	}
	s := newSet(t, evs...)
	all := s.All()
	if len(all) != 23 {
		t.Fatalf("All has %d tokens, want 23", len(all))
	}
	for _, page := range []int{1, 5, 23, 100} {
		var got []tokenset.Token
		buf := make([]tokenset.Token, 0, page)
		for from := 0; ; {
			var next int
			buf, next = s.AppendRange(buf[:0], from, page)
			if len(buf) == 0 {
				if next != from {
					t.Fatalf("page %d: an empty page moved from %d to %d", page, from, next)
				}
				break
			}
			got = append(got, buf...)
			from = next
		}
		if !slices.EqualFunc(got, all, func(a, b tokenset.Token) bool {
			return a.ID == b.ID && a.Version == b.Version && a.Revoked == b.Revoked
		}) {
			t.Errorf("page %d: %d tokens, want All's %d in its order", page, len(got), len(all))
		}
	}
}
