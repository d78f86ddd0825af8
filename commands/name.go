package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// NameState is a unique name's claim as the command side sees it.
type NameState struct {
	AggregateState
	Held   bool
	Holder events.Owner
}

// FoldName builds a NameState from a name aggregate's events.
func FoldName(evs []events.Envelope) (NameState, error) {
	var s NameState
	err := foldEach(events.KindName, evs, &s.AggregateState, func(p events.Payload) bool {
		switch d := p.(type) {
		case events.NameClaimed:
			s.Exists, s.Held, s.Holder = true, true, d.Holder
		case events.NameReleased:
			s.Held, s.Holder = false, events.Owner{}
		default:
			return false
		}
		return true
	})
	return s, err
}

// nameOp is a claim or release of a unique name that a command makes in
// the same atomic append as its own event.
type nameOp struct {
	scope, name string
	release     bool
}

func claim(scope, name string) []nameOp {
	if strings.TrimSpace(name) == "" {
		return nil
	}
	return []nameOp{{scope: scope, name: name}}
}

func release(scope, name string) []nameOp {
	if strings.TrimSpace(name) == "" {
		return nil
	}
	return []nameOp{{scope: scope, name: name, release: true}}
}

// sameName reports whether two names are one claim in scope.
func sameName(scope, a, b string) bool {
	return events.NameID(scope, a) == events.NameID(scope, b)
}

// nameAppends turns the claims and releases of holder into appends with
// their own expectations. A name held by another holder is ErrExists; a
// claim the holder already has, or a release of a name it does not hold,
// appends nothing.
func (h *Handler) nameAppends(ctx context.Context, m Meta, now time.Time, holder events.Owner, ops []nameOp) ([]Append, error) {
	var out []Append
	seen := map[string]bool{}
	for _, op := range ops {
		id := events.NameID(op.scope, op.name)
		if seen[id] { // e.g. a username equal to the e-mail: one claim
			continue
		}
		seen[id] = true
		s, err := load(ctx, h, events.KindName, id, FoldName)
		if err != nil {
			return nil, err
		}
		var p events.Payload
		switch {
		case op.release && s.Held && s.Holder == holder:
			p = events.NameReleased{}
		case op.release, s.Held && s.Holder == holder:
			continue
		case s.Held:
			return nil, &NameTakenError{Scope: op.scope, Name: op.name}
		default:
			p = events.NameClaimed{Scope: op.scope, Name: strings.TrimSpace(op.name), Holder: holder}
		}
		env, err := h.envelope(m, id, p, s.LastHash, now)
		if err != nil {
			return nil, err
		}
		out = append(out, Append{Event: env, Expected: s.Version})
	}
	return out, nil
}

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

// NameTakenError is returned when a command would claim a unique name that
// another aggregate holds. It wraps ErrExists; its message is safe to show.
type NameTakenError struct {
	Scope string // events.Scope*
	Name  string
}

func (e *NameTakenError) Error() string {
	what := map[string]string{events.ScopeUsername: "username or e-mail address", events.ScopeEmail: "e-mail address",
		events.ScopeRoleName: "role name", events.ScopePATDescription: "token description"}[e.Scope]
	if what == "" {
		what = e.Scope
	}
	name := e.Name
	if e.Scope == events.ScopePATDescription {
		name = name[strings.IndexByte(name, '/')+1:] // without the owner
	}
	return fmt.Sprintf("the %s %q is already taken", what, truncate(name))
}

// Unwrap makes errors.Is(err, ErrExists) hold.
func (e *NameTakenError) Unwrap() error { return ErrExists }

// accountTokenName is the description claim of a personal or
// service-account token (none for other tokens).
func accountTokenName(owner *events.Owner, description string, rel bool) []nameOp {
	if owner == nil {
		return nil
	}
	if rel {
		return release(events.ScopePATDescription, events.PATName(*owner, description))
	}
	return claim(events.ScopePATDescription, events.PATName(*owner, description))
}

// takenAfterConflict explains a conflict of a batch that claimed names: if
// one of them is now held by someone else, that (a NameTakenError) is the
// reason; otherwise nil.
func (h *Handler) takenAfterConflict(ctx context.Context, m Meta, holder events.Owner, ops []nameOp) error {
	for _, op := range ops {
		if op.release {
			continue
		}
		if _, err := h.nameAppends(ctx, m, h.Now(), holder, []nameOp{op}); err != nil {
			return err
		}
	}
	return nil
}

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
	if errors.As(err, &taken) {
		return nil, ErrKeyReused
	}
	if err != nil {
		return nil, err
	}
	if len(claims) == 0 { // held by this very holder: an earlier command on it
		return nil, ErrKeyReused
	}
	return claims, nil
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
	if k, ok := s.Commands[m.CommandID]; ok && k > seq {
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
			if _, ours := s.Commands[m.CommandID]; !ours {
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
	evs, err := h.store.Load(ctx, env.AggregateKind, env.AggregateID)
	if err != nil {
		return false, err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].CommandID == m.CommandID {
			return evs[i].ID == env.ID, nil
		}
	}
	return false, nil
}

// head seals a command's own event on aggregate id (chained to prev,
// expecting version) and prepares the claim of its idempotency key, which
// goes last in the batch (see keyClaim).
func (h *Handler) head(ctx context.Context, m Meta, id string, p events.Payload, prev string, version uint64, now time.Time) (Append, []Append, error) {
	env, err := h.envelope(m, id, p, prev, now)
	if err != nil {
		return Append{}, nil, err
	}
	key, err := h.keyClaim(ctx, m, now, events.Owner{Kind: p.AggregateKind(), ID: id})
	if err != nil {
		return Append{}, nil, err
	}
	return Append{Event: env, Expected: version}, key, nil
}
