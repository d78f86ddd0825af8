package commands

import (
	"context"
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
func FoldName(evs []events.Envelope) (NameState, error) { return NameState{}.more(evs) }

// more returns a copy of s with evs, the events after s.Version in
// stream order, folded on; s itself is unchanged (the state cache hands
// out s to concurrent commands).
func (s NameState) more(evs []events.Envelope) (NameState, error) {
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
