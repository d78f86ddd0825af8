package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// AsOf returns the token set as it was after the event at seq: a fresh Set
// fed the stream's events 1…seq by replay. If seq is beyond the newest
// event, the Set holds the whole stream; its LastApplied tells where it
// ended. AsOf(ctx, src, 0) is the empty set.
//
// The cost is a replay from the start (snapshots come later).
func AsOf(ctx context.Context, src Source, seq uint64) (*tokenset.Set, error) {
	s := tokenset.New()
	if seq == 0 {
		return s, nil
	}
	if err := src.Replay(ctx, 1, seq, s.Apply); err != nil {
		return nil, fmt.Errorf("projections: token set as of sequence %d: %w", seq, err)
	}
	return s, nil
}

// errPassed stops AsOfTime's replay at the first event after its target.
var errPassed = errors.New("replay passed the target time")

// AsOfTime returns the token set as it was at t: a fresh Set fed the
// stream's events in order up to, not including, the first event whose
// Time is after t. Event times are set by the ledger's clocks, which agree
// only roughly across replicas; the stream order decides, and the answer
// is the longest prefix of the stream that happened at or before t.
func AsOfTime(ctx context.Context, src Source, t time.Time) (*tokenset.Set, error) {
	last, err := src.LastSequence(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections: token set as of %s: %w", t.Format(time.RFC3339Nano), err)
	}
	s := tokenset.New()
	if last == 0 {
		return s, nil
	}
	err = src.Replay(ctx, 1, last, func(env events.Envelope) error {
		if env.Time.After(t) {
			return errPassed
		}
		return s.Apply(env)
	})
	if err != nil && !errors.Is(err, errPassed) {
		return nil, fmt.Errorf("projections: token set as of %s: %w", t.Format(time.RFC3339Nano), err)
	}
	return s, nil
}
