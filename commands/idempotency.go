package commands

// Idempotency: a command id recorded on its aggregate makes a retry a
// replay; a client's Idempotency-Key is claimed in the command's own batch.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// ErrKeyReused is returned when a command carries an idempotency key that
// an earlier, different command already used (Meta.Key).
var ErrKeyReused = errors.New("the idempotency key was already used for another request")

// keyClaim returns the claim of m.Key to append last in the command's
// batch (none without a key). A retried command never gets here (its
// command id is found on its aggregate first), so a key that is already
// claimed means another request used it: ErrKeyReused. Appending the claim
// last makes its sequence the batch's, which a replay reports (keySeq).
func (h *Handler) keyClaim(ctx context.Context, m Meta, now time.Time, holder events.Owner) ([]Append, error) {
	if m.Key == "" {
		return nil, nil
	}
	claims, err := h.nameAppends(ctx, m, now, holder, claim(events.ScopeIdempotencyKey, m.Key))
	var taken *NameTakenError
	if errors.As(err, &taken) || (err == nil && len(claims) == 0) {
		// Claimed already: by an identical request that raced this one
		// past its replay check (same command id: errKeyOurs, which run
		// answers with that request's replay), or by another request.
		s, lerr := load(ctx, h, events.KindName, events.NameID(events.ScopeIdempotencyKey, m.Key), FoldName)
		if lerr != nil {
			return nil, lerr
		}
		if _, ours := s.Command(m.CommandID); ours {
			return nil, errKeyOurs
		}
		if _, ours := s.Command(m.CommandID + unchangedSuffix); ours {
			return nil, errKeyUnchanged
		}
		return nil, ErrKeyReused
	}
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// claimKeyAlone claims m.Key for a command that changes nothing
// (ErrUnchanged), so the key means the same as after any other command: a
// retry of the same request answers the same, another request under the
// key is ErrKeyReused. It appends the claim alone and returns its sequence
// (0 without a key, or when this command claimed the key before: a retry).
// The claim records the command id with unchangedSuffix, so a retry
// after the aggregate changed meanwhile (when the same request would now
// change it) is still answered as the first attempt was: unchanged.
func (h *Handler) claimKeyAlone(ctx context.Context, m Meta, now time.Time, holder events.Owner) (uint64, error) {
	if m.Key == "" {
		return 0, nil
	}
	m.CommandID += unchangedSuffix
	for attempt := 0; ; attempt++ {
		claims, err := h.keyClaim(ctx, m, now, holder)
		if errors.Is(err, errKeyOurs) || errors.Is(err, errKeyUnchanged) {
			return 0, nil
		}
		if err != nil || len(claims) == 0 {
			return 0, err
		}
		claims[0].MsgID = m.CommandID
		stored, err := h.store.Append(ctx, claims...)
		if errors.Is(err, ErrConflict) && attempt == 0 {
			continue // claimed meanwhile: by this request's twin, or another
		}
		if err != nil {
			return 0, fmt.Errorf("claim idempotency key: %w", err)
		}
		return stored.Seq, nil
	}
}

// unchangedSuffix marks the command id of an idempotency key claimed by a
// command that changed nothing (claimKeyAlone).
const unchangedSuffix = "/unchanged"

// errKeyUnchanged: the idempotency key is claimed by this very request's
// first attempt, which changed nothing; its retry answers the same
// (ErrUnchanged), whatever the aggregate became meanwhile.
var errKeyUnchanged = errors.New("the idempotency key is claimed by this request, which changed nothing")

// errKeyOurs: the idempotency key is claimed under this very command id,
// by an identical request that was stored after this one looked for its
// command id on the aggregate. The key's claim is in the same atomic batch
// as the aggregate's event, so that event is stored: a replay.
var errKeyOurs = errors.New("the idempotency key is claimed by this command")

// replayedRace reads the aggregate until it shows m's command id (a read
// may come from a replica that has not applied the racing append yet;
// bounded as in stored) and returns its sequence and state.
func replayedRace[S stateful[S]](ctx context.Context, m Meta, read func(context.Context) (S, expectation, error)) (S, uint64, error) {
	for attempt := 0; ; attempt++ {
		s, _, err := read(ctx)
		if err != nil {
			return s, 0, err
		}
		if seq, ok := s.base().Command(m.CommandID); ok {
			return s, seq, nil
		}
		if attempt == staleReadRetries {
			return s, 0, fmt.Errorf("command %s: its key is claimed but its event is not visible after %d reads: %w", m.CommandID, attempt+1, ErrOutcomeUnknown)
		}
		select {
		case <-ctx.Done():
			return s, 0, ctx.Err()
		case <-time.After(staleReadPause):
		}
	}
}

// keySeq is the sequence a replay of m reports: the key claim's, which is
// the last event of the first attempt's batch, or seq when there is none.
func (h *Handler) keySeq(ctx context.Context, m Meta, seq uint64) (uint64, error) {
	if m.Key == "" {
		return seq, nil
	}
	s, err := load(ctx, h, events.KindName, events.NameID(events.ScopeIdempotencyKey, m.Key), FoldName)
	if err != nil {
		return 0, err
	}
	if k, ok := s.Command(m.CommandID); ok && k > seq {
		return k, nil
	}
	return seq, nil
}

// afterConflict explains a conflict of a batch that claimed names or a
// key: the key claimed meanwhile by another request (ErrKeyReused), or a
// name now held by someone else (a NameTakenError); otherwise nil.
func (h *Handler) afterConflict(ctx context.Context, m Meta, holder events.Owner, ops []nameOp) error {
	if m.Key != "" {
		s, err := load(ctx, h, events.KindName, events.NameID(events.ScopeIdempotencyKey, m.Key), FoldName)
		if err == nil && s.Held {
			if _, ours := s.Command(m.CommandID); !ours {
				return ErrKeyReused
			}
		}
	}
	return h.takenAfterConflict(ctx, m, holder, ops)
}

// stored reports whether the aggregate's event with m's command id is env
// itself. Two identical requests racing under one key share a command id;
// the store then finds the winner's batch by its message ids and reports
// success to both, and only this check tells the loser it was a replay.
func (h *Handler) stored(ctx context.Context, m Meta, env events.Envelope) (bool, error) {
	if m.Key == "" {
		return true, nil
	}
	// The append succeeded, so an event with this command id is stored
	// (ours or the winner's). A read that does not show it is stale (on a
	// replicated stream a follower may serve it before it applied the
	// append): read again, a bounded number of times.
	for attempt := 0; ; attempt++ {
		evs, err := h.store.Load(ctx, env.AggregateKind, env.AggregateID)
		if err != nil {
			return false, err
		}
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].CommandID == m.CommandID {
				return evs[i].ID == env.ID, nil
			}
		}
		if attempt == staleReadRetries {
			return false, fmt.Errorf("command %s: its stored event is not visible after %d reads: %w", m.CommandID, attempt+1, ErrOutcomeUnknown)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(staleReadPause):
		}
	}
}

// A read of an aggregate right after an append may come from a replica
// that has not applied it yet; it is repeated this often, this far apart.
const (
	staleReadRetries = 40
	staleReadPause   = 25 * time.Millisecond
)

// msgIDs gives the appends of one command their message ids: the command
// id alone for a single event, <commandID>/<i> for a batch.
func msgIDs(m Meta, batch []Append) {
	if len(batch) == 1 {
		batch[0].MsgID = m.CommandID
		return
	}
	for i := range batch {
		batch[i].MsgID = fmt.Sprintf("%s/%d", m.CommandID, i)
	}
}

// Replays reports whether m is the retry of a command already stored:
// its idempotency key (m.Key) is claimed under its very command id. The
// API asks before it resolves a request's references, so a retry answers
// its first result even when what the request named was deleted since.
// A command that changed nothing (claimKeyAlone) is not a replay here.
func (h *Handler) Replays(ctx context.Context, m Meta) (bool, error) {
	if m.Key == "" || m.CommandID == "" {
		return false, nil
	}
	s, err := load(ctx, h, events.KindName, events.NameID(events.ScopeIdempotencyKey, m.Key), FoldName)
	if err != nil {
		return false, err
	}
	_, ours := s.Command(m.CommandID)
	return ours, nil
}
