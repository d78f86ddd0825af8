// Package expiry records what verification already knows: token.expired
// events (Scheduler) and the revocation or narrowing of tokens whose
// project, environment or owner was deleted (Sweeper). Verification checks
// a token's expiry and its scope's deletion itself, so there is never a
// window in which such a token works; these recorders only write the audit
// record, so that subscribers to ledger.token.> learn of it.
package expiry

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Scheduler finds tokens whose expiry passed and records it.
type Scheduler struct {
	Commands *commands.Handler
	Tokens   *tokenset.Set
	Every    time.Duration // default 1s
	Log      *slog.Logger
}

// Tick records the expiry of every due token once. The command id is
// derived from the token and its expiry, so several ledger replicas doing
// the same work append one event.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	n := 0
	for _, t := range s.Tokens.Due(s.Commands.Now()) {
		m := commands.Meta{
			CommandID: "expire-" + t.ID + "-" + strconv.FormatInt(t.ExpiresAt.UnixNano(), 10),
			Actor:     events.System,
			Via:       events.Via{CredentialType: "internal", RequestID: "expiry-scheduler"},
		}
		res, err := s.Commands.ExpireToken(ctx, m, t.ID)
		switch {
		case err == nil && !res.Replayed:
			n++
		case err == nil, errors.Is(err, commands.ErrConflict), errors.Is(err, commands.ErrExists),
			errors.Is(err, commands.ErrGone), commands.IsValidation(err):
			// Another replica got there first, or the token changed since
			// the projection saw it; the next tick looks again.
		default:
			return n, err
		}
	}
	return n, nil
}

// Run ticks until ctx is done.
func (s *Scheduler) Run(ctx context.Context) error {
	every := s.Every
	if every <= 0 {
		every = time.Second
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
				log.Warn("expiry scheduler", "err", err)
			}
		}
	}
}
