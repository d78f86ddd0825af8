package projections_test

// Replay of a stream of signed events into the token set, with and without
// checking every event against the ledger's key chain (hash recomputed over
// the RFC 8785 bytes, Ed25519 signature verified), in the same run:
//
//	go test -run '^$' -bench '^BenchmarkReplaySignatureChecks$' -benchtime 3x ./projections/

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

func BenchmarkReplaySignatureChecks(b *testing.B) {
	n := benchEvents()
	key, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		b.Fatal(err)
	}
	srv := natstest.RunServer(b)
	nc := natstest.Connect(b, srv)
	ctx := context.Background()
	store, err := jsstore.Open(ctx, nc, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	fillSignedStream(b, js, n, key)
	last := uint64(n)

	b.Run("unchecked", func(b *testing.B) {
		for b.Loop() {
			set := tokenset.New()
			if err := store.Replay(ctx, 1, last, set.Apply); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("signature_checked", func(b *testing.B) {
		for b.Loop() {
			set := tokenset.New()
			chain, err := ledgerkey.NewChain(key.VerifierKey())
			if err != nil {
				b.Fatal(err)
			}
			err = store.Replay(ctx, 1, last, func(e events.Envelope) error {
				if err := chain.Check(e); err != nil {
					return err
				}
				return set.Apply(e)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("checkpoint_covered", func(b *testing.B) {
		// The root a checkpoint of the whole stream signs.
		tree := integrity.NewLog()
		if err := store.Replay(ctx, 1, last, tree.Apply); err != nil {
			b.Fatal(err)
		}
		want, err := tree.Tree().Root(int64(last))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			set, log := tokenset.New(), integrity.NewLog()
			chain, err := ledgerkey.NewChain(key.VerifierKey())
			if err != nil {
				b.Fatal(err)
			}
			chain.TrustThrough(last)
			err = store.Replay(ctx, 1, last, func(e events.Envelope) error {
				if err := chain.Check(e); err != nil {
					return err
				}
				if err := log.Apply(e); err != nil {
					return err
				}
				return set.Apply(e)
			})
			if err != nil {
				b.Fatal(err)
			}
			if got, err := log.Tree().Root(int64(last)); err != nil || got != want {
				b.Fatalf("root %v, want %v (%v)", got, want, err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
