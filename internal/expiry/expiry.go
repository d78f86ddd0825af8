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
		m := systemMeta("expire-"+t.ID+"-"+strconv.FormatInt(t.ExpiresAt.UnixNano(), 10), "expiry-scheduler")
		appended, err := recorded(s.Commands.ExpireToken(ctx, m, t.ID))
		if err != nil {
			return n, err
		}
		if appended {
			n++
		}
	}
	return n, nil
}

// Run ticks until ctx is done.
func (s *Scheduler) Run(ctx context.Context) error {
	return every(ctx, s.Every, s.Log, "expiry scheduler", s.Tick)
}

// systemMeta is the metadata of a recorder's command: the actor system,
// and an id derived from what is recorded, so replicas append it once.
func systemMeta(commandID, recorder string) commands.Meta {
	return commands.Meta{CommandID: commandID, Actor: events.System,
		Via: events.Via{CredentialType: "internal", RequestID: recorder}}
}

// recorded reads a recorder command's outcome: whether it appended, and
// the error to stop on. Another replica or a user having got there first,
// or the token having changed since the projection saw it, is no error:
// the next tick looks again.
func recorded(res commands.Result, err error) (bool, error) {
	switch {
	case err == nil:
		return !res.Replayed, nil
	case errors.Is(err, commands.ErrConflict), errors.Is(err, commands.ErrExists), errors.Is(err, commands.ErrGone),
		errors.Is(err, commands.ErrNotFound), commands.IsValidation(err):
		return false, nil
	}
	return false, err
}

// every runs tick at once and then every period (default 1s) until ctx is
// done, logging its errors.
func every(ctx context.Context, period time.Duration, log *slog.Logger, name string, tick func(context.Context) (int, error)) error {
	if period <= 0 {
		period = time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if _, err := tick(ctx); err != nil && ctx.Err() == nil {
			log.Warn(name, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
