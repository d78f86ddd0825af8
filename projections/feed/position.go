package feed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/projections/feed/directget"
)

// LastSequence is the feed's last sequence (0 for an empty feed), read
// with a reader's permissions (one Direct Get): follow from it + 1 to see
// only what happens from now on.
func LastSequence(ctx context.Context, nc *nats.Conn) (uint64, error) {
	m, err := directget.One(ctx, nc, "$JS.API.", Stream, struct {
		LastFor string `json:"last_by_subj"`
	}{">"})
	if errors.Is(err, directget.ErrNoMessages) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("feed: last sequence: %w", err)
	}
	return m.Sequence, nil
}

// SequenceAt is the sequence of the first feed event stored at or after t
// (LastSequence + 1 when there is none yet): follow from it to see what
// happened since t.
func SequenceAt(ctx context.Context, nc *nats.Conn, t time.Time) (uint64, error) {
	m, err := directget.One(ctx, nc, "$JS.API.", Stream, struct {
		StartTime time.Time `json:"start_time"`
	}{t.UTC()})
	if errors.Is(err, directget.ErrNoMessages) {
		last, err := LastSequence(ctx, nc)
		return last + 1, err
	}
	if err != nil {
		return 0, fmt.Errorf("feed: sequence at %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return m.Sequence, nil
}
