package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// Name scopes of the account-token rules. Like every name claim they are
// aggregates of kind name whose expectation decides among concurrent
// commands.
const (
	// ScopeAccountTokenSlot holds one of an owner's MaxAccountTokens
	// numbered slots ("<kind>/<owner id>/<n>"): each live personal or
	// service-account token holds one, released when it is revoked (by any
	// path). Expired tokens keep theirs: they count until revoked, as in
	// Unleash.
	ScopeAccountTokenSlot = "account-token-slot"
	// ScopeFirstPersonalToken is claimed by a user's first personal token
	// (the name is the user id) and never released: a token issued on a
	// user's behalf must be the one that claims it.
	ScopeFirstPersonalToken = "first-personal-token"
)

// ErrTooManyTokens: the owner already holds the most live personal or
// service-account tokens allowed (Handler.MaxAccountTokens).
var ErrTooManyTokens = errors.New("too many personal or service-account tokens for this owner")

// ErrNotFirstToken: a personal token issued on a user's behalf must be the
// user's first; this user has or had one.
var ErrNotFirstToken = errors.New("the user already has or had a personal access token; only a user's first token may be issued on their behalf")

func slotName(owner events.Owner, n int) string {
	return fmt.Sprintf("%s/%s/%d", owner.Kind, owner.ID, n)
}

// accountClaims are the claims that make the rules of an account token
// hold in the stream, appended with its token.created: a free slot of its
// owner (ErrTooManyTokens when none is), and for a personal token the
// owner's first-token claim when nobody took it yet (ErrNotFirstToken for
// a token on the user's behalf when somebody did). The read model is
// consulted first for tokens older than these claims.
func (h *Handler) accountClaims(ctx context.Context, m Meta, now time.Time, holder events.Owner, p events.TokenCreated) ([]Append, error) {
	if p.Owner == nil {
		return nil, nil
	}
	owner := *p.Owner
	var live, hadPersonal int
	if h.tokens != nil {
		for _, t := range h.tokens.OwnedTokens(owner) {
			if !t.Revoked {
				live++
			}
			if t.Type == events.TokenPersonal {
				hadPersonal++
			}
		}
	}
	if live >= h.maxAccount {
		return nil, ErrTooManyTokens
	}
	var out []Append
	if p.TokenType == events.TokenPersonal {
		id := events.NameID(ScopeFirstPersonalToken, owner.ID)
		s, err := load(ctx, h, events.KindName, id, FoldName)
		if err != nil {
			return nil, err
		}
		if p.OnBehalfOf && (s.Exists || hadPersonal > 0) {
			return nil, ErrNotFirstToken
		}
		if !s.Exists {
			a, err := h.claimAppend(m, now, id, s, ScopeFirstPersonalToken, owner.ID, holder)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	for n := 0; n < h.maxAccount; n++ {
		name := slotName(owner, n)
		id := events.NameID(ScopeAccountTokenSlot, name)
		s, err := load(ctx, h, events.KindName, id, FoldName)
		if err != nil {
			return nil, err
		}
		if s.Held {
			continue
		}
		a, err := h.claimAppend(m, now, id, s, ScopeAccountTokenSlot, name, holder)
		if err != nil {
			return nil, err
		}
		return append(out, a), nil
	}
	return nil, ErrTooManyTokens
}

// claimAppend is the claim of name (aggregate id, state s) by holder,
// expecting s's version.
func (h *Handler) claimAppend(m Meta, now time.Time, id string, s NameState, scope, name string, holder events.Owner) (Append, error) {
	env, err := h.envelope(m, id, events.NameClaimed{Scope: scope, Name: name, Holder: holder}, s.LastHash, now)
	if err != nil {
		return Append{}, err
	}
	return Append{Event: env, Expected: s.Version}, nil
}

// tokenNameOps are the name releases a token event makes: revoking a
// personal or service-account token frees its description and its slot
// (whichever it holds; releases of names it does not hold append nothing).
func (h *Handler) tokenNameOps(s TokenState, p events.Payload) []nameOp {
	if _, ok := p.(events.TokenRevoked); !ok || s.Owner == nil {
		return nil
	}
	ops := accountTokenName(s.Owner, s.Created.Name, true)
	for n := 0; n < h.maxAccount; n++ {
		ops = append(ops, release(ScopeAccountTokenSlot, slotName(*s.Owner, n))...)
	}
	return ops
}

// checkScope refuses a token scoped to a project or environment the
// catalogue does not know as live. It is a check against the read model,
// for a clear answer; the token set (projections/tokenset) makes a token
// created after its scope's deletion invalid in stream order, and the
// scope sweeper revokes it.
func (h *Handler) checkScope(c CreateToken) error {
	if h.cat == nil || IsAccountToken(c.Type) {
		return nil
	}
	if c.Environment != AllEnvironments && ValidID(c.Environment) && !h.cat.EnvironmentLive(c.Environment) {
		return invalid("environment", "The environment does not exist")
	}
	for _, p := range c.Projects {
		if p == AllProjects || !ValidID(p) {
			continue // DecideCreate names what is wrong with a malformed id
		}
		if !h.cat.ProjectLive(p) {
			return invalid("projects", "A project in projects does not exist")
		}
	}
	return nil
}
