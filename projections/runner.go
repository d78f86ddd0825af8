package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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

// DefaultProgressEvery is how often a replay logs its progress unless
// [Runner.ProgressEvery] says otherwise.
const DefaultProgressEvery = 5 * time.Second

// Runner feeds projections from a [Source] and lets readers wait until an
// event was applied (read-your-writes). Create one with [NewRunner] and
// start it with [Runner.Run]; all methods are safe for concurrent use.
//
// Each Run begins with a replay (the catch-up to the stream's last
// sequence as Run found it), which Log hears about: one line at its start
// (the events to apply), one every ProgressEvery with the rate, and one
// at its end (count and duration).
type Runner struct {
	// Log receives the replay's start, progress and summary lines (INFO).
	// nil: nothing is logged. Set it before Run.
	Log *slog.Logger
	// ProgressEvery is the interval between the replay's progress lines;
	// 0 means DefaultProgressEvery. Set it before Run.
	ProgressEvery time.Duration
	// Verify, when set, checks each event before it is applied (the
	// ledger's key chain: was this event written by the ledger?). An
	// error stops Run like an Apply error, the event unapplied. Set it
	// before Run.
	Verify func(events.Envelope) error
	// Chains, when set, checks after Verify that each event follows its
	// aggregate's last event (see [Chains]) before any projection applies
	// it: a refused event stops Run like an Apply error. Run resumes from
	// its LastApplied too. Set it before Run.
	Chains *Chains
	// Precheck, when set, is given the events of the catch-up replay in
	// runs of up to PrecheckBatch consecutive events before Verify sees
	// any of them, to do at once (on all CPUs) the part of Verify's work
	// that needs no other event: a replay not covered by a checkpoint
	// checks every signature ([ledgerkey.Chain.Precheck]). Live events
	// are not held back for it. Set it before Run.
	Precheck func([]events.Envelope)
	// DuringCatchUp, when set, is called as a Run's catch-up replay
	// starts (when there is anything to replay), and the function it
	// returns once the replay reached the stream's last sequence as Run
	// found it, or Run ended before: the service raises the collector's
	// GOGC for the replay (internal/catchupgc). Set it before Run.
	DuringCatchUp func() (end func())
	// Stopping, when set, is called with the error that ends Run before
	// Err (and whoever waits on the Runner) can see it: what it writes
	// (the service's ERROR line about a tampered ledger) is out before a
	// probe reports the stop. Set it before Run.
	Stopping func(error)

	src Source
	ps  []Projection

	applied atomic.Uint64 // every projection applied up to here
	held    sync.Mutex    // held while one event is applied; see Hold

	mu      sync.Mutex
	running bool
	stopped bool  // Run returned and was not started again
	err     error // why it stopped
	ready   bool
	// changed is closed (and replaced) when ready or stopped changes, or
	// applied reaches wakeAt, if someone waits for it (waiting).
	changed chan struct{}
	waiting bool
	// wakeAt is the lowest sequence a WaitFor waits for (0: none): a
	// replay wakes the waiters when it is applied, not at every event.
	wakeAt uint64
	wakes  uint64      // how often waiters were woken, for tests
	replay ReplayStats // the last replay, guarded by mu
}

// ReplayStats describe a Run's catch-up replay.
type ReplayStats struct {
	// Events is how many events the replay applied.
	Events uint64
	// Duration is how long it took (so far, while not Done).
	Duration time.Duration
	// Done is set once the replay reached the stream's last sequence as
	// Run found it.
	Done bool
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
	if r.Chains != nil {
		m = min(m, r.Chains.LastApplied())
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
	if r.Stopping != nil {
		r.Stopping(err)
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
	rp := r.startReplay(from, mark)
	if rp != nil && r.DuringCatchUp != nil {
		rp.end = r.DuringCatchUp()
		defer rp.ended()
	}
	if mark > from {
		r.grow(mark - from)
	}
	r.advance(from, mark)
	last := from
	apply := func(env events.Envelope) error {
		r.held.Lock()
		defer r.held.Unlock()
		if env.Sequence != last+1 {
			// Whatever the Source: a projection never skips a sequence.
			return &events.TamperError{Seq: last + 1, Kind: events.TamperGap,
				Err: fmt.Errorf("projections: the source delivered sequence %d after %d", env.Sequence, last)}
		}
		if r.Verify != nil {
			if err := r.Verify(env); err != nil {
				return fmt.Errorf("projections: seq %d (%s) refused: %w", env.Sequence, env.Type, err)
			}
		}
		if r.Chains != nil {
			if err := r.Chains.Apply(env); err != nil {
				return fmt.Errorf("projections: seq %d (%s) refused: %w", env.Sequence, env.Type, err)
			}
		}
		last = env.Sequence
		for _, p := range r.ps {
			if err := p.Apply(env); err != nil {
				return fmt.Errorf("projections: apply seq %d (%s) to %T: %w", env.Sequence, env.Type, p, err)
			}
		}
		if rp != nil {
			if rp.applied(env.Sequence) {
				rp = nil // caught up: live events are not logged one by one
			}
		}
		r.advance(env.Sequence, mark)
		return nil
	}
	if r.Precheck == nil {
		return r.follow(ctx, from+1, apply)
	}
	// The catch-up replay goes in runs: prechecked together, then applied
	// one by one; from the mark on, event by event.
	var run []events.Envelope
	flush := func() error {
		if len(run) > 1 {
			r.Precheck(run)
		}
		for i := range run {
			if err := apply(run[i]); err != nil {
				clear(run)
				run = run[:0]
				return err
			}
		}
		clear(run) // drop the events' bytes
		run = run[:0]
		return nil
	}
	return r.follow(ctx, from+1, func(env events.Envelope) error {
		if env.Sequence >= mark {
			if err := flush(); err != nil {
				return err
			}
			return apply(env)
		}
		if run == nil {
			run = make([]events.Envelope, 0, PrecheckBatch)
		}
		run = append(run, env)
		if len(run) == PrecheckBatch {
			return flush()
		}
		return nil
	})
}

// PrecheckBatch is how many events of the catch-up replay a Runner gives
// its Precheck at once.
const PrecheckBatch = 512

// replay tracks one Run's catch-up for its log lines and [ReplayStats].
type replay struct {
	r       *Runner
	from    uint64 // last sequence applied before the replay
	mark    uint64 // the stream's last sequence when Run started
	start   time.Time
	nextLog time.Time
	every   time.Duration
	events  uint64
	end     func() // DuringCatchUp's (nil: none)
	endOnce sync.Once
}

// ended calls DuringCatchUp's end function, once (from the goroutine that
// applies events, or Run's as it returns).
func (rp *replay) ended() {
	if rp.end != nil {
		rp.endOnce.Do(rp.end)
	}
}

// startReplay logs the replay's start and returns its tracker; nil when
// there is nothing to replay (the summary is logged at once).
func (r *Runner) startReplay(from, mark uint64) *replay {
	every := r.ProgressEvery
	if every <= 0 {
		every = DefaultProgressEvery
	}
	now := time.Now()
	rp := &replay{r: r, from: from, mark: mark, start: now, nextLog: now.Add(every), every: every}
	toApply := uint64(0)
	if mark > from {
		toApply = mark - from
	}
	r.logInfo("replay started", "events_to_apply", toApply, "from_seq", from+1, "stream_last_seq", mark)
	r.mu.Lock()
	r.replay = ReplayStats{}
	r.mu.Unlock()
	if toApply == 0 {
		rp.finish(now)
		return nil
	}
	return rp
}

// applied counts the event at seq and reports whether the replay is done.
func (rp *replay) applied(seq uint64) bool {
	rp.events++
	if seq >= rp.mark {
		rp.finish(time.Now())
		return true
	}
	// Reading the clock every 256 events keeps its cost out of the replay
	// rate; progress lines are still due within a fraction of a second.
	if rp.events%256 != 0 {
		return false
	}
	now := time.Now()
	took := now.Sub(rp.start)
	rp.r.mu.Lock()
	rp.r.replay = ReplayStats{Events: rp.events, Duration: took}
	rp.r.mu.Unlock()
	if now.Before(rp.nextLog) {
		return false
	}
	rp.nextLog = now.Add(rp.every)
	total := rp.mark - rp.from
	rp.r.logInfo("replay progress", "events_applied", rp.events, "events_to_apply", total,
		"percent", float64(rp.events*1000/total)/10, "seq", seq,
		"events_per_second", rate(rp.events, took), "elapsed", took.Round(time.Millisecond).String())
	return false
}

// finish logs the summary and publishes the final stats.
func (rp *replay) finish(now time.Time) {
	rp.ended()
	took := now.Sub(rp.start)
	rp.r.mu.Lock()
	rp.r.replay = ReplayStats{Events: rp.events, Duration: took, Done: true}
	rp.r.mu.Unlock()
	rp.r.logInfo("replay done", "events_applied", rp.events, "duration", took.Round(time.Millisecond).String(),
		"duration_seconds", took.Seconds(), "events_per_second", rate(rp.events, took), "last_seq", rp.mark)
}

// rate is events per second, rounded to a whole number.
func rate(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(int64(float64(n) / d.Seconds()))
}

func (r *Runner) logInfo(msg string, args ...any) {
	if r.Log != nil {
		r.Log.Info(msg, args...)
	}
}

// Replay describes the catch-up replay of the current or last Run.
func (r *Runner) Replay() ReplayStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.replay
}

// advance records that every projection applied seq and wakes the
// waiters when the Runner becomes ready or seq reaches the lowest
// sequence a WaitFor waits for (not at every event of a replay: each
// wake-up cost a channel and a goroutine switch per event).
func (r *Runner) advance(seq, mark uint64) {
	r.applied.Store(seq)
	r.mu.Lock()
	switch {
	case seq >= mark && !r.ready:
		r.ready = true
		r.broadcastLocked()
	case r.wakeAt != 0 && seq >= r.wakeAt:
		r.broadcastLocked()
	}
	r.mu.Unlock()
}

// broadcastLocked wakes every goroutine waiting on changed.
func (r *Runner) broadcastLocked() {
	if r.waiting {
		close(r.changed)
		r.changed = make(chan struct{})
		r.waiting = false
		r.wakes++
	}
	r.wakeAt = 0
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
	return r.wait(ctx, 0, func() bool { return r.ready }, "catching up")
}

// WaitFor blocks until every projection applied the event at seq (a
// command's response carries it), for read-your-writes. It returns
// ctx.Err() if ctx ends first, and an error wrapping [ErrStopped] and the
// reason if Run returned before. Waiting costs no polling: waiters are
// woken by the Runner as events are applied. A Source that is a [Wanter]
// is told of seq.
func (r *Runner) WaitFor(ctx context.Context, seq uint64) error {
	if r.applied.Load() >= seq {
		return nil
	}
	if w, ok := r.src.(Wanter); ok {
		w.Want(seq)
	}
	return r.wait(ctx, seq, func() bool { return r.applied.Load() >= seq }, fmt.Sprint("reaching sequence ", seq))
}

// wait blocks until done (called under r.mu) holds; at is the sequence
// whose application makes it hold (0: only a change of ready or stopped
// does).
func (r *Runner) wait(ctx context.Context, at uint64, done func() bool, what string) error {
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
		if at != 0 && (r.wakeAt == 0 || at < r.wakeAt) {
			r.wakeAt = at
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
