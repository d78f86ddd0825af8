package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tokenledger/tokenledger/events"
)

// Projection is a read model fed from the stream, such as a
// *tokenset.Set or an *auditlog.Log.
type Projection interface {
	// Apply applies the next event of the stream. It must be deterministic
	// and idempotent by sequence: an event at or below LastApplied is
	// ignored without error. An error means the event could not be
	// applied and the projection is unchanged.
	Apply(events.Envelope) error
	// LastApplied is the sequence of the last event applied (0 if none).
	LastApplied() uint64
}

// ErrStopped is returned (wrapped, with the reason) by [Runner.WaitFor] and
// [Runner.WaitReady] when the Runner stopped before the awaited point.
var ErrStopped = errors.New("projections: runner stopped")

// Runner feeds projections from a [Source] and lets readers wait until an
// event was applied (read-your-writes). Create one with [NewRunner] and
// start it with [Runner.Run]; all methods are safe for concurrent use.
type Runner struct {
	src Source
	ps  []Projection

	applied atomic.Uint64 // every projection applied up to here

	mu      sync.Mutex
	running bool
	stopped bool  // Run returned and was not started again
	err     error // why it stopped
	ready   bool
	// changed is closed (and replaced) at the next change of applied,
	// ready or stopped, if someone waits for it (waiting).
	changed chan struct{}
	waiting bool
}

// NewRunner returns a Runner feeding ps from src. It panics if src is nil,
// ps is empty or holds nil: a wiring mistake should fail at start-up.
func NewRunner(src Source, ps ...Projection) *Runner {
	if src == nil {
		panic("projections: NewRunner with a nil Source")
	}
	if len(ps) == 0 {
		panic("projections: NewRunner without projections")
	}
	for i, p := range ps {
		if p == nil {
			panic(fmt.Sprintf("projections: NewRunner with a nil projection at %d", i))
		}
	}
	r := &Runner{src: src, ps: ps, changed: make(chan struct{})}
	r.applied.Store(r.minApplied())
	return r
}

func (r *Runner) minApplied() uint64 {
	m := r.ps[0].LastApplied()
	for _, p := range r.ps[1:] {
		m = min(m, p.LastApplied())
	}
	return m
}

// Run reads the Source's last sequence as the catch-up mark, then follows
// the stream from the lowest LastApplied of the projections on, applying
// each event to every projection in order (a projection that is ahead
// ignores what it has). It returns when ctx is done (with ctx.Err()), when
// the Source fails, or at the first Apply error, which names the event's
// sequence and the projection; [Runner.Err] reports the same afterwards.
//
// The Runner becomes ready ([Runner.Ready]) once every event up to the mark
// was applied. Run may be called again after it returned, to resume; it
// returns an error if called while running.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return errors.New("projections: runner already running")
	}
	r.running, r.stopped, r.err = true, false, nil
	r.mu.Unlock()

	err := r.run(ctx)
	if err == nil {
		// A Source must not end Follow without a reason; treat it as one.
		err = errors.New("projections: source stopped following")
	}
	r.mu.Lock()
	r.running, r.stopped, r.err = false, true, err
	r.broadcastLocked()
	r.mu.Unlock()
	return err
}

func (r *Runner) run(ctx context.Context) error {
	mark, err := r.src.LastSequence(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("projections: read the catch-up mark: %w", err)
	}
	from := r.minApplied()
	r.advance(from, mark)
	return r.src.Follow(ctx, from+1, func(env events.Envelope) error {
		for _, p := range r.ps {
			if err := p.Apply(env); err != nil {
				return fmt.Errorf("projections: apply seq %d (%s) to %T: %w", env.Sequence, env.Type, p, err)
			}
		}
		r.advance(env.Sequence, mark)
		return nil
	})
}

// advance records that every projection applied seq and wakes waiters.
func (r *Runner) advance(seq, mark uint64) {
	r.applied.Store(seq)
	r.mu.Lock()
	if seq >= mark {
		r.ready = true
	}
	r.broadcastLocked()
	r.mu.Unlock()
}

// broadcastLocked wakes every goroutine waiting on changed.
func (r *Runner) broadcastLocked() {
	if r.waiting {
		close(r.changed)
		r.changed = make(chan struct{})
		r.waiting = false
	}
}

// LastApplied is the sequence every projection has applied.
func (r *Runner) LastApplied() uint64 { return r.applied.Load() }

// Ready reports whether the Runner caught up with the stream as it was when
// Run started. It stays true once true.
func (r *Runner) Ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready
}

// Err is the reason Run returned (ctx.Err(), a Source error or an Apply
// error), or nil while it runs or before it was started.
func (r *Runner) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// WaitReady blocks until the Runner is ready (see [Runner.Ready]). It
// returns ctx.Err() if ctx ends first, and an error wrapping [ErrStopped]
// and the reason if Run returned before.
func (r *Runner) WaitReady(ctx context.Context) error {
	return r.wait(ctx, func() bool { return r.ready }, "catching up")
}

// WaitFor blocks until every projection applied the event at seq (a
// command's response carries it), for read-your-writes. It returns
// ctx.Err() if ctx ends first, and an error wrapping [ErrStopped] and the
// reason if Run returned before. Waiting costs no polling: waiters are
// woken by the Runner as events are applied.
func (r *Runner) WaitFor(ctx context.Context, seq uint64) error {
	if r.applied.Load() >= seq {
		return nil
	}
	return r.wait(ctx, func() bool { return r.applied.Load() >= seq }, fmt.Sprint("reaching sequence ", seq))
}

// wait blocks until done (called under r.mu) holds.
func (r *Runner) wait(ctx context.Context, done func() bool, what string) error {
	for {
		r.mu.Lock()
		if done() {
			r.mu.Unlock()
			return nil
		}
		if r.stopped {
			err := r.err
			r.mu.Unlock()
			return fmt.Errorf("%w before %s: %w", ErrStopped, what, err)
		}
		r.waiting = true
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
