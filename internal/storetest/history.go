package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// Appender stores batches of events (the ledger's store, jsstore.Store).
type Appender interface {
	Append(ctx context.Context, batch ...commands.Append) (commands.Stored, error)
}

// eventReader reads stored events back by sequence (jsstore.Store).
type eventReader interface {
	Events(ctx context.Context, seqs []uint64) ([]events.Envelope, error)
}

// FillTokenHistory appends the histories of n backend tokens of project
// default in environment development through a, in batches of up to 100
// events: per token a token.created, then perToken-1 later events (expiry
// changes; the last one of every other token a revocation). The secret of
// token i is TokenSecret(i). It returns the number of events appended;
// benchmarks use it to build large ledgers quickly.
func FillTokenHistory(tb testing.TB, ctx context.Context, a Appender, n, perToken int) int {
	tb.Helper()
	ids, prev, last := make([]string, n), make([]string, n), make([]uint64, n)
	for i := range ids {
		ids[i] = NewAggregateID()
	}
	at := time.Now().UTC()
	appended := 0
	for round := range perToken {
		for lo := 0; lo < n; lo += 100 {
			hi := min(n, lo+100)
			batch := make([]commands.Append, 0, hi-lo)
			for i := lo; i < hi; i++ {
				var p events.Payload
				switch {
				case round == 0:
					p = events.TokenCreated{TokenType: events.TokenBackend, Name: fmt.Sprint("bench-", i), Environment: "development",
						Projects: []string{"default"}, Path: events.PathAdminAPI, Verifier: events.VerifierHex(TokenSecret(i)),
						Hint: "default:development.…" + TokenSecret(i)[len(TokenSecret(i))-4:]}
				case round == perToken-1 && i%2 == 1:
					p = events.TokenRevoked{Reason: events.ReasonDeleted}
				default:
					exp := at.Add(time.Duration(24*(round+i%30)) * time.Hour)
					p = events.TokenExpiryChanged{New: &exp}
				}
				env, err := events.New(NewEventID(), ids[i], p, at)
				if err != nil {
					tb.Fatal(err)
				}
				env.Actor = events.System
				env.Via = events.Via{CredentialType: "internal", RequestID: "bench"}
				env.Prev = prev[i]
				if err := env.Seal(); err != nil {
					tb.Fatal(err)
				}
				prev[i] = env.Hash
				batch = append(batch, commands.Append{Event: env, Expected: last[i], MsgID: env.ID})
			}
			stored, err := a.Append(ctx, batch...)
			if err != nil {
				tb.Fatalf("storetest: append %d events: %v", len(batch), err)
			}
			for k := range batch {
				last[lo+k] = stored.Seq - uint64(len(batch)-1-k)
			}
			// A store that signs re-seals each event (the key id is part
			// of the hash): chain the next events to the stored hashes.
			if r, ok := a.(eventReader); ok {
				envs, err := r.Events(ctx, last[lo:hi])
				if err != nil || len(envs) != hi-lo {
					tb.Fatalf("storetest: read back %d events: %v", hi-lo, err)
				}
				for k := range envs {
					prev[lo+k] = envs[k].Hash
				}
			}
			appended += len(batch)
		}
	}
	return appended
}

// TokenSecret is the secret of token i of FillTokenHistory.
func TokenSecret(i int) string { return fmt.Sprintf("default:development.%064x", i+1) }
