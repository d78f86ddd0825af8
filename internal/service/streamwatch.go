package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// Stream watch timing: one STREAM.INFO a second, each bounded; the stream
// counts as unreachable when no answer came for unreachableAfter.
const (
	watchEvery       = time.Second
	watchTimeout     = 2 * time.Second
	unreachableAfter = 3 * time.Second
)

// streamWatch asks the stream's leader for its state every watchEvery,
// on an external NATS. It knows when the replica last reached the stream,
// when it last knew it had applied everything stored (its reads' staleness)
// and how often the stream's leader changed.
type streamWatch struct {
	state     func(context.Context) (jsstore.StreamState, error)
	applied   func() uint64
	connected func() bool

	mu      sync.Mutex
	reached time.Time // start of the last probe the stream answered
	current time.Time // the replica had applied everything stored then
	// pending is a probe that found the replica behind: once it applied
	// pendingSeq, it was current as of pendingAt.
	pendingSeq uint64
	pendingAt  time.Time
	leader     string
	changes    uint64 // leader changes seen
	lastErr    error
}

func newStreamWatch(st *jsstore.Store, applied func() uint64) *streamWatch {
	now := time.Now()
	return &streamWatch{state: st.State, applied: applied, connected: st.Connected, reached: now, current: now}
}

// run probes until ctx ends.
func (w *streamWatch) run(ctx context.Context) error {
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		w.probe(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (w *streamWatch) probe(ctx context.Context) {
	at := time.Now()
	pctx, cancel := context.WithTimeout(ctx, watchTimeout)
	st, err := w.state(pctx)
	cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.lastErr = err
		return
	}
	w.reached, w.lastErr = at, nil
	if st.Leader != "" && st.Leader != w.leader {
		if w.leader != "" {
			w.changes++
		}
		w.leader = st.Leader
	}
	w.settleLocked()
	if w.applied() >= st.LastSeq {
		w.current, w.pendingSeq = at, 0
	} else if w.pendingSeq == 0 {
		w.pendingSeq, w.pendingAt = st.LastSeq, at
	}
}

// settleLocked takes a pending probe as current once its sequence is
// applied.
func (w *streamWatch) settleLocked() {
	if w.pendingSeq != 0 && w.applied() >= w.pendingSeq {
		if w.pendingAt.After(w.current) {
			w.current = w.pendingAt
		}
		w.pendingSeq = 0
	}
}

// staleness is how long ago the replica last knew it had applied every
// stored event: its reads show the ledger as of then, or later.
func (w *streamWatch) staleness() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.settleLocked()
	return time.Since(w.current)
}

// leaderChanges is how many times the stream's leader changed.
func (w *streamWatch) leaderChanges() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changes
}

// health is nil while the stream answers; else why not (the replica
// then reports not ready).
func (w *streamWatch) health() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	since := time.Since(w.reached)
	if since < unreachableAfter {
		return nil
	}
	conn := "connected to NATS, but no stream leader answers"
	if !w.connected() {
		conn = "not connected to NATS"
	}
	return fmt.Errorf("the stream has not answered for %s (%s; last error: %v): writes fail and reads are %s stale",
		since.Truncate(time.Second), conn, w.lastErr, time.Since(w.current).Truncate(time.Second))
}

// guardedStore refuses appends at once, nothing sent, while the
// connection to NATS is down and the stream has not answered for
// unreachableAfter (a partitioned replica): they would only wait out the
// retry budget. With the connection up, appends go out and are retried
// through an election.
type guardedStore struct {
	observedStore
	watch *streamWatch
}

// Append implements [commands.EventStore].
func (g guardedStore) Append(ctx context.Context, batch ...commands.Append) (commands.Stored, error) {
	if err := g.watch.health(); err != nil && !g.watch.connected() {
		err = fmt.Errorf("service: append refused, nothing sent: %w: %w", commands.ErrUnavailable, err)
		g.observe(0, err)
		return commands.Stored{}, err
	}
	return g.observedStore.Append(ctx, batch...)
}
