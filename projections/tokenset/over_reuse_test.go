package tokenset_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// zoned is the n-th expiry in a zone other than UTC: a record cannot keep
// it in a word, so it takes a slot of the overflow table.
func zoned(n int) time.Time {
	return time.Date(2030, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600)).Add(time.Duration(n) * time.Minute)
}

// Every change of a token's expiry to a time kept out of line took a new
// slot of the overflow table and never gave the old one back: a token
// whose zoned expiry was changed n times held n slots for ever. A slot a
// record no longer holds is taken by the next such time.
func TestChangedZonedExpiriesReuseTheirOverflowSlots(t *testing.T) {
	const changes = 200
	a, b := secret("default", "development", 1), secret("default", "development", 2)
	ca, cb := created(a, "default"), created(b, "default")
	ca.ExpiresAt, cb.ExpiresAt = ptr(zoned(0)), ptr(zoned(-1))
	s := newSet(t, ev(t, 1, "a", ca), ev(t, 2, "b", cb))
	for i := 1; i <= changes; i++ {
		mustApply(t, s, ev(t, uint64(2+i), "a", events.TokenExpiryChanged{Previous: ptr(zoned(i - 1)), New: ptr(zoned(i))}))
	}
	if n := s.OverSlots(); n > 3 {
		t.Errorf("%d overflow slots after %d changes of one zoned expiry, want at most 3 (two live, one free)", n, changes)
	}
	for id, want := range map[string]time.Time{"a": zoned(changes), "b": zoned(-1)} {
		tok, ok := s.ByID(id)
		if !ok || !tok.ExpiresAt.Equal(want) || tok.ExpiresAt.Format(time.RFC3339) != want.Format(time.RFC3339) {
			t.Errorf("token %s expires %v, want %v", id, tok.ExpiresAt, want)
		}
	}
	// A snapshot restores the same times.
	restored := tokenset.New()
	if err := restored.RestoreSnapshot(s.AppendSnapshot(nil)); err != nil {
		t.Fatal(err)
	}
	if tok, _ := restored.ByID("a"); tok.ExpiresAt.Format(time.RFC3339Nano) != zoned(changes).Format(time.RFC3339Nano) {
		t.Errorf("restored token a expires %v, want %v", tok.ExpiresAt, zoned(changes))
	}
}

// Readers take no lock while the writer reuses overflow slots: a reader
// of one token never sees a time of another token's, whose slot its own
// used to be, nor a torn time (run with -race).
func TestVerifyNeverSeesAnotherTokensReusedOverflowTime(t *testing.T) {
	const changes = 2000
	a, b := secret("default", "development", 1), secret("default", "development", 2)
	ca, cb := created(a, "default"), created(b, "default")
	// a's expiries are even minutes, b's odd ones.
	ca.ExpiresAt, cb.ExpiresAt = ptr(zoned(0)), ptr(zoned(1))
	s := newSet(t, ev(t, 1, "a", ca), ev(t, 2, "b", cb))
	now := zoned(-10_000)

	var done atomic.Bool
	var wg sync.WaitGroup
	bad := make(chan string, 2)
	for _, c := range []struct {
		sec    string
		parity int
	}{{a, 0}, {b, 1}} {
		wg.Go(func() {
			for !done.Load() {
				tok, st := s.Check(c.sec, now)
				if st != tokenset.Valid {
					bad <- "status " + st.String()
					return
				}
				if m := int(tok.ExpiresAt.Sub(zoned(0)) / time.Minute); m%2 != c.parity || tok.ExpiresAt.Location() == time.UTC {
					bad <- "expiry " + tok.ExpiresAt.String() + " of another token"
					return
				}
			}
		})
	}
	seq := uint64(3)
	for i := 1; i <= changes; i++ {
		for j, id := range []string{"a", "b"} {
			mustApply(t, s, ev(t, seq, id, events.TokenExpiryChanged{New: ptr(zoned(2*i + j))}))
			seq++
		}
	}
	done.Store(true)
	wg.Wait()
	close(bad)
	for msg := range bad {
		t.Error(msg)
	}
}
