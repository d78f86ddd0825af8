package projections_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// A reader waiting for a sequence (WaitFor) or for the catch-up
// (WaitReady) is woken when what it waits for happens, not at every
// event the replay applies before: each wake-up cost the replay a
// channel and a goroutine switch per event. Waiters for different
// sequences are each woken at theirs.
func TestRunnerWakesWaitersAtWhatTheyWaitFor(t *testing.T) {
	l := newLedger(t)
	l.mixed(60)
	r := projections.NewRunner(l.store, tokenset.New())
	errs := make(chan error, 3)
	started := make(chan struct{}, 3)
	for _, wait := range []func() error{
		func() error { return r.WaitFor(ctxFor(t), 20) },
		func() error { return r.WaitFor(ctxFor(t), 60) },
		func() error { return r.WaitReady(ctxFor(t)) },
	} {
		go func() {
			started <- struct{}{}
			errs <- wait()
		}()
	}
	for range 3 {
		<-started
	}
	start(t, r)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// At most: one wake for sequence 20, one at the mark (60, ready);
	// a waiter that had not registered yet when Run started may add one.
	if n := projections.Wakes(r); n > 3 {
		t.Fatalf("waiters were woken %d times during a replay of 60 events, want at most 3", n)
	}
	if r.LastApplied() != 60 {
		t.Fatalf("applied %d, want 60", r.LastApplied())
	}
}
