package projections_test

// The token set as of the newest event: a replay of the token set's
// subjects only (projections.AsOf) beside the replay of every event it
// replaced, in the same run, on a stream of n token-lifecycle events
// (TOKENLEDGER_BENCH_EVENTS) followed by as many audit records (a ledger
// read as often as it is written):
//
//	TOKENLEDGER_BENCH_EVENTS=100000 go test -run '^$' -bench '^BenchmarkStateAt$' -benchtime 3x -timeout 30m ./projections/

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

func BenchmarkStateAt(b *testing.B) {
	n := benchEvents()
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
	fillStream(b, js, n)
	for i := range n {
		e := storetest.Event(b, storetest.NewAggregateID(), events.AuditQueried{Route: "GET /api/ledger/events",
			Outcome: events.AuditAllowed, Format: "json", Filters: map[string][]string{"type": {"token.revoked"}}}, "")
		data, err := events.Marshal(&e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync(e.Subject(), data); err != nil {
			b.Fatal(err)
		}
		if i%4096 == 4095 {
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("publish did not complete")
	}
	last, err := store.LastSequence(ctx)
	if err != nil || last != uint64(2*n) {
		b.Fatalf("stream holds %d events, want %d (%v)", last, 2*n, err)
	}
	var full, subjects *tokenset.Set
	b.Run("before_replay_of_every_event", func(b *testing.B) {
		for b.Loop() {
			full = tokenset.New()
			if err := store.Replay(ctx, 1, last, full.Apply); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/state")
	})
	b.Run("token_subjects_only", func(b *testing.B) {
		for b.Loop() {
			if subjects, err = projections.AsOf(ctx, store, last); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/state")
	})
	if full != nil && subjects != nil && full.Digest() != subjects.Digest() {
		b.Fatal("the two replays built different token sets")
	}
}
