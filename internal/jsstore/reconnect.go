package jsstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// A request published before the connection was lost is never answered:
// the reply was routed to the old connection, or the server that held
// the request died with it. An attempt in flight when the connection is
// re-established (the node the replica was connected to died, during an
// election) therefore ends then, not at its timeout, and is retried at
// once over the new connection.

// errReconnected ends an attempt that was in flight when the connection
// was re-established. It is a timeout as far as [TimedOut] is concerned:
// an append sent before may have been stored.
var errReconnected = fmt.Errorf("jsstore: the connection to NATS was re-established while the request was in flight: %w",
	nats.ErrConnectionReconnecting)

// reconnects tells attempts in flight that the connection was
// re-established. The zero value is ready (and never signals until
// signal is called).
type reconnects struct {
	mu sync.Mutex
	ch chan struct{} // closed at the next reconnect
}

// next is closed when the connection is next re-established.
func (r *reconnects) next() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ch == nil {
		r.ch = make(chan struct{})
	}
	return r.ch
}

// signal says the connection was re-established.
func (r *reconnects) signal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ch != nil {
		close(r.ch)
		r.ch = nil
	}
}

// attemptContext is ctx bounded by timeout that also ends, with cause
// errReconnected, when the connection is re-established.
func (s *Store) attemptContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	next := s.reconn.next()
	cctx, cancelCause := context.WithCancelCause(ctx)
	actx, cancel := context.WithTimeout(cctx, timeout)
	go func() {
		select {
		case <-next:
			cancelCause(errReconnected)
		case <-actx.Done():
		}
	}()
	return actx, func() { cancel(); cancelCause(context.Canceled) }
}

// inFlightAcrossReconnect is err, or errReconnected when actx (from
// attemptContext) ended because the connection was re-established while
// the attempt waited.
func inFlightAcrossReconnect(actx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(actx), errReconnected) {
		return fmt.Errorf("%w (%w)", errReconnected, err)
	}
	return err
}
