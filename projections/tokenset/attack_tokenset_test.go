package tokenset_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// TestCheckDuringExpiryChangesNeverTearsAToken: 16 lock-free verifiers
// read a token while its expiry moves between a time a record keeps as
// nanoseconds (2030) and one it keeps in the over column (year 9999). A
// verifier that reads the record's new flags with its old expiry word (or
// the reverse) must retry, never look the old word up as an index (a
// panic: index out of range) nor return a token whose expiry is neither.
func TestCheckDuringExpiryChangesNeverTearsAToken(t *testing.T) {
	near := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	far := time.Date(9999, 1, 2, 3, 4, 5, 0, time.UTC)
	sec := secret("default", "development", 1)
	c := created(sec)
	c.ExpiresAt = &near
	s := newSet(t, ev(t, 1, "tok-1", c))
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	const changes = 4000
	deadline := time.Now().Add(20 * time.Second)
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs <- fmt.Sprintf("Check panicked: %v", p)
				}
			}()
			for n := 0; n < 1_000_000 && !done.Load() && time.Now().Before(deadline); n++ {
				tok, st := s.Check(sec, now)
				if st != tokenset.Valid {
					errs <- fmt.Sprintf("status %v, want valid", st)
					return
				}
				if !tok.ExpiresAt.Equal(near) && !tok.ExpiresAt.Equal(far) {
					errs <- fmt.Sprintf("torn token: expires at %v", tok.ExpiresAt)
					return
				}
			}
		}()
	}
	for i := range changes {
		if time.Now().After(deadline) {
			break
		}
		prev, next := near, far
		if i%2 == 1 {
			prev, next = far, near
		}
		if err := s.Apply(ev(t, uint64(2+i), "tok-1", events.TokenExpiryChanged{Previous: &prev, New: &next})); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestCheckDuringScopeChangesAndRevocationIsWholeAndFinal: 16 lock-free
// verifiers read a token while its scope moves between two project lists
// and its expiry between a near and a far year, then while it is revoked:
// each read is one version whole (a list and an expiry the token had),
// and once Apply of the revocation returned, no verifier accepts it.
func TestCheckDuringScopeChangesAndRevocationIsWholeAndFinal(t *testing.T) {
	near := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	far := time.Date(9999, 1, 2, 3, 4, 5, 0, time.UTC)
	one, two := []string{"alpha"}, []string{"beta", "gamma"}
	sec := secret("alpha", "development", 2)
	c := created(sec, one...)
	c.ExpiresAt = &near
	s := newSet(t, ev(t, 1, "tok-2", c))
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	deadline := time.Now().Add(20 * time.Second)
	var revoked, done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs <- fmt.Sprintf("Check panicked: %v", p)
				}
			}()
			for n := 0; n < 1_000_000 && !done.Load() && time.Now().Before(deadline); n++ {
				wasRevoked := revoked.Load()
				tok, st := s.Check(sec, now)
				if wasRevoked && st != tokenset.Revoked {
					errs <- fmt.Sprintf("status %v after the revocation was applied", st)
					return
				}
				if st != tokenset.Valid && st != tokenset.Revoked {
					errs <- fmt.Sprintf("status %v", st)
					return
				}
				ps := fmt.Sprint(tok.Projects)
				if ps != fmt.Sprint(one) && ps != fmt.Sprint(two) {
					errs <- fmt.Sprintf("torn token: projects %s", ps)
					return
				}
				if !tok.ExpiresAt.Equal(near) && !tok.ExpiresAt.Equal(far) {
					errs <- fmt.Sprintf("torn token: expires at %v", tok.ExpiresAt)
					return
				}
			}
		}()
	}
	seq := uint64(2)
	for i := 0; i < 3000 && time.Now().Before(deadline); i++ {
		prevP, nextP, prevE, nextE := one, two, near, far
		if i%2 == 1 {
			prevP, nextP, prevE, nextE = two, one, far, near
		}
		mustApply(t, s, ev(t, seq, "tok-2", events.TokenScoped{Projects: nextP, PreviousProjects: prevP}),
			ev(t, seq+1, "tok-2", events.TokenExpiryChanged{Previous: &prevE, New: &nextE}))
		seq += 2
	}
	mustApply(t, s, ev(t, seq, "tok-2", events.TokenRevoked{Reason: "leaked"}))
	revoked.Store(true)
	for i := 0; i < 2000 && time.Now().Before(deadline); i++ {
		runtime.Gosched()
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
