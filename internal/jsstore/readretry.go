package jsstore

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Back-off of a read that found no server answering for the stream: a
// leader lost, replicas electing another. The read is tried again until
// its context's deadline, each attempt within readAttemptTimeout (an
// attempt sent as a node went down or came back may get no answer at all).
// An attempt in flight when the connection is re-established is tried
// again at once (see reconnect.go).
const (
	readFirstBackoff = 50 * time.Millisecond
	readMaxBackoff   = 250 * time.Millisecond
)

// readAttemptTimeout bounds one attempt (a Direct Get batch is answered
// in milliseconds; one sent as a node dies can go unanswered, and is then
// sent again after this); a variable so that a test can make it too long
// to wait for.
var readAttemptTimeout = 2 * time.Second

// retryNoResponders runs read until it succeeds, fails otherwise than
// with no responders or an unanswered attempt, or ctx's deadline (which
// it must have) leaves no time for another attempt after the back-off. It
// returns the last attempt's answer. Reads change nothing: any of them
// may be repeated.
func (s *Store) retryNoResponders(ctx context.Context, read func(context.Context) ([]*jetstream.RawStreamMsg, error)) ([]*jetstream.RawStreamMsg, error) {
	backoff := readFirstBackoff
	for {
		actx, cancel := s.attemptContext(ctx, readAttemptTimeout)
		msgs, err := read(actx)
		err = inFlightAcrossReconnect(actx, err)
		cancel()
		if err == nil || ctx.Err() != nil || !(errors.Is(err, nats.ErrNoResponders) || TimedOut(err)) {
			return msgs, err
		}
		if errors.Is(err, errReconnected) {
			continue // lost with the old connection: at once
		}
		if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) < 2*backoff {
			return msgs, err
		}
		select {
		case <-ctx.Done():
			return msgs, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, readMaxBackoff)
	}
}
