package expiry

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Sweeper records the revocation or narrowing of tokens that a deletion
// left naming a deleted project, environment or owner: tokens created while
// the deletion was appended, and the tail of a deletion whose tokens did
// not fit in one atomic batch. Like expiry, the token set already treats
// such a token as revoked from the deletion on (tokenset.Token.Orphaned);
// the sweeper writes the audit record. It is idempotent: each command's id
// is derived from the token and its version, and carries the token's
// expectation, so replicas sweeping at once append one event per token,
// and a sweep cut short by a crash resumes at the next start.
type Sweeper struct {
	Commands *commands.Handler
	Tokens   *tokenset.Set
	Every    time.Duration // default 1s
	// Batch bounds the tokens handled per tick; 0: 1,000.
	Batch int
	Log   *slog.Logger
}

// Tick records the outcome for every stale token (at most Batch) once and
// returns how many events it appended.
func (s *Sweeper) Tick(ctx context.Context) (int, error) {
	batch := s.Batch
	if batch <= 0 {
		batch = 1000
	}
	n := 0
	for _, t := range s.Tokens.Stale(batch) {
		m := systemMeta("sweep-"+t.ID+"-"+strconv.FormatUint(t.Version, 10), "scope-sweeper")
		appended, err := recorded(s.sweep(ctx, m, t))
		if err != nil {
			return n, err
		}
		if appended {
			n++
		}
	}
	return n, nil
}

// sweep revokes t when it can act for nothing any more (reason: what was
// deleted), or removes its deleted projects when some remain.
func (s *Sweeper) sweep(ctx context.Context, m commands.Meta, t tokenset.Token) (commands.Result, error) {
	revoke := func(reason string) (commands.Result, error) {
		return s.Commands.RevokeToken(ctx, m, commands.RevokeToken{TokenID: t.ID, Reason: reason})
	}
	switch {
	case t.Owner != nil && s.Tokens.Deleted(t.Owner.Kind, t.Owner.ID):
		return revoke(events.ReasonOwnerDeleted)
	case t.Environment != "" && s.Tokens.Deleted(events.KindEnvironment, t.Environment):
		return revoke(events.ReasonEnvironmentDeleted)
	}
	gone := slices.DeleteFunc(slices.Clone(t.Projects), func(p string) bool { return !s.Tokens.Deleted(events.KindProject, p) })
	if len(gone) == 0 {
		return commands.Result{Replayed: true}, nil
	}
	return s.Commands.ScopeToken(ctx, m, commands.ScopeToken{TokenID: t.ID, Remove: gone,
		Cause: events.ReasonProjectDeleted + ":" + gone[0]})
}

// Run ticks until ctx is done.
func (s *Sweeper) Run(ctx context.Context) error {
	return every(ctx, s.Every, s.Log, "scope sweeper", s.Tick)
}
