package projections_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// countingProjection counts what it applied and, when during is set,
// whether the catch-up's DuringCatchUp was in force for each event.
type countingProjection struct {
	applied, during atomic.Int64
	last            atomic.Uint64
	inForce         *atomic.Bool
	failAt          uint64
}

func (p *countingProjection) LastApplied() uint64 { return p.last.Load() }

func (p *countingProjection) Apply(env events.Envelope) error {
	if env.Sequence <= p.last.Load() {
		return nil
	}
	if env.Sequence == p.failAt {
		return errors.New("refused")
	}
	p.last.Store(env.Sequence)
	p.applied.Add(1)
	if p.inForce.Load() {
		p.during.Add(1)
	}
	return nil
}

// Ensure DuringCatchUp is in force for the catch-up's events and no
// later: started once when there is history, ended once at the mark (the
// live events after it see it ended), or when Run stops inside the
// catch-up; never started for an empty stream.
func TestRunner_DuringCatchUp_spans_the_catch_up_only(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	for _, tc := range []struct {
		name             string
		history, live    int
		failAt           uint64 // an apply error there (0: none)
		wantStarts       int64
		wantDuringEvents int64
	}{
		{"empty_stream", 0, 3, 0, 0, 0},
		{"history_then_live_events", 40, 5, 0, 1, 40},
		{"stopped_inside_the_catch_up", 40, 0, 20, 1, 19},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(t)
			l.mixed(tc.history)
			var inForce atomic.Bool
			var starts, ends atomic.Int64
			p := &countingProjection{inForce: &inForce, failAt: tc.failAt}
			r := projections.NewRunner(l.store, tokenset.New(), p)
			r.DuringCatchUp = func() func() {
				starts.Add(1)
				inForce.Store(true)
				return func() { ends.Add(1); inForce.Store(false) }
			}
			_, wait := start(t, r)
			if tc.failAt != 0 {
				if err := wait(); err == nil {
					t.Fatal("Run did not stop at the refused event")
				}
			} else {
				// Live events come once the catch-up reached the mark Run
				// read (before, the mark could include them).
				if err := r.WaitReady(ctx); err != nil {
					t.Fatal(err)
				}
				for range tc.live {
					l.token("alpha")
				}
				if err := r.WaitFor(ctx, uint64(tc.history+tc.live)); err != nil {
					t.Fatal(err)
				}
			}
			if starts.Load() != tc.wantStarts || ends.Load() != tc.wantStarts {
				t.Errorf("DuringCatchUp started %d and ended %d times, want %d", starts.Load(), ends.Load(), tc.wantStarts)
			}
			if p.during.Load() != tc.wantDuringEvents {
				t.Errorf("%d events applied while it was in force, want %d (of %d applied)", p.during.Load(), tc.wantDuringEvents, p.applied.Load())
			}
		})
	}
}
