package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// SubjectReplayer is an optional [Source] capability: a replay of the
// events on some subjects only (see jsstore.Store.ReplayOn).
type SubjectReplayer interface {
	ReplayOn(ctx context.Context, filters []string, from, to uint64, fn func(events.Envelope) error) error
}

// AsOf returns the token set as it was after the event at seq. If seq is
// beyond the newest event, the Set holds the whole stream; its
// LastApplied tells where it ended. AsOf(ctx, src, 0) is the empty set.
//
// A Source that can replay by subject ([SubjectReplayer]) is read on the
// token set's subjects only: the token events, and the few deletions that
// orphan tokens (read first, each filter on its own: nats-server delivers
// a consumer with several filters several times slower than one with a
// single filter), merged in stream order. Principals, roles, name claims
// and audit records are not read. Otherwise the whole prefix 1…seq is
// replayed.
func AsOf(ctx context.Context, src Source, seq uint64) (*tokenset.Set, error) {
	s := tokenset.New()
	if seq == 0 {
		return s, nil
	}
	wrap := func(err error) error { return fmt.Errorf("projections: token set as of sequence %d: %w", seq, err) }
	sr, ok := src.(SubjectReplayer)
	if !ok {
		if err := src.Replay(ctx, 1, seq, s.Apply); err != nil {
			return nil, wrap(err)
		}
		return s, nil
	}
	last, err := src.LastSequence(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	seq = min(seq, last)
	var scope []events.Envelope
	for _, f := range tokenset.ScopeSubjects() {
		err := sr.ReplayOn(ctx, []string{f}, 1, seq, func(e events.Envelope) error {
			scope = append(scope, e)
			return nil
		})
		if err != nil {
			return nil, wrap(err)
		}
	}
	slices.SortFunc(scope, func(a, b events.Envelope) int { return cmp.Compare(a.Sequence, b.Sequence) })
	next := 0
	scopeBefore := func(seq uint64) error {
		for ; next < len(scope) && scope[next].Sequence < seq; next++ {
			if err := s.Apply(scope[next]); err != nil {
				return err
			}
		}
		return nil
	}
	err = sr.ReplayOn(ctx, []string{tokenset.TokenSubject()}, 1, seq, func(e events.Envelope) error {
		if err := scopeBefore(e.Sequence); err != nil {
			return err
		}
		return s.Apply(e)
	})
	if err == nil {
		err = scopeBefore(seq + 1)
	}
	if err != nil {
		return nil, wrap(err)
	}
	s.SkipTo(seq)
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
