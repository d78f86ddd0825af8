package service

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// fillHistoriesConcurrently appends the token histories
// storetest.FillTokenHistory appends (n backend tokens, perToken events
// each, the same payloads and secrets), signed by store as the ledger
// signs them, one event per append from `workers` goroutines that each
// own every workers-th token. Atomic batches cost 20–30 ms each on a
// single-replica file stream (README, Known gaps), which made a
// million-event fill take most of an hour; single appends from a few
// writers fill it in about a minute on two idle cores. It returns the
// number of events appended.
func fillHistoriesConcurrently(tb testing.TB, ctx context.Context, store *jsstore.Store, n, perToken, workers int) int {
	tb.Helper()
	at := time.Now().UTC()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int
			for i := w; i < n; i += workers {
				mine = append(mine, i)
			}
			ids, prev, last := make([]string, len(mine)), make([]string, len(mine)), make([]uint64, len(mine))
			for k := range ids {
				ids[k] = storetest.NewAggregateID()
			}
			for round := range perToken {
				for k, i := range mine {
					var p events.Payload
					switch {
					case round == 0:
						secret := storetest.TokenSecret(i)
						p = events.TokenCreated{TokenType: events.TokenBackend, Name: fmt.Sprint("bench-", i), Environment: "development",
							Projects: []string{"default"}, Path: events.PathAdminAPI, Verifier: events.VerifierHex(secret),
							Hint: "default:development.…" + secret[len(secret)-4:]}
					case round == perToken-1 && i%2 == 1:
						p = events.TokenRevoked{Reason: events.ReasonDeleted}
					default:
						exp := at.Add(time.Duration(24*(round+i%30)) * time.Hour)
						p = events.TokenExpiryChanged{New: &exp}
					}
					env, err := events.New(storetest.NewEventID(), ids[k], p, at)
					if err != nil {
						errs <- err
						return
					}
					env.Actor = events.System
					env.Via = events.Via{CredentialType: "internal", RequestID: "bench"}
					env.Prev = prev[k]
					if err := env.Seal(); err != nil {
						errs <- err
						return
					}
					// The store signs (and so re-seals) the event in place.
					one := []commands.Append{{Event: env, Expected: last[k], MsgID: env.ID}}
					stored, err := store.Append(ctx, one...)
					if err != nil {
						errs <- fmt.Errorf("append event %d of token %d: %w", round, i, err)
						return
					}
					prev[k], last[k] = one[0].Event.Hash, stored.Seq
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return n * perToken
}
