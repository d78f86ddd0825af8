package tokenset_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// A token that is valid before and after an event must verify as Valid
// while the event is applied. (Found by review: the slot once kept an
// "expires" flag beside the expiry, and a reader could pair the old flag
// with the new expiry of a token whose expiry was removed: Expired. The
// slot now stores "never" as the largest time, so the expiry alone
// decides.)
func TestVerify_ExpiryRemovalNeverReadsAsExpired(t *testing.T) {
	sec := secret("default", "development", 1)
	future := t0.Add(365 * 24 * time.Hour)
	c := created(sec, "default")
	c.ExpiresAt = &future
	s := newSet(t, ev(t, 1, "tok-1", c))
	now := t0.Add(time.Hour) // before future: valid under both versions

	var bad atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 1000 {
					if _, st := s.VerifyAt(sec, now); st != tokenset.Valid {
						bad.Add(1)
					}
				}
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	seq := uint64(2)
	for time.Now().Before(deadline) && bad.Load() == 0 {
		var p events.TokenExpiryChanged
		if seq%2 == 0 {
			p = events.TokenExpiryChanged{Previous: &future, New: nil}
		} else {
			p = events.TokenExpiryChanged{Previous: nil, New: &future}
		}
		mustApply(t, s, ev(t, seq, "tok-1", p))
		seq++
	}
	close(stop)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Fatalf("a token valid before and after each of %d expiry changes verified as not Valid %d times", seq-2, n)
	}
}
