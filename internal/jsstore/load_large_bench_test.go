package jsstore_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// BenchmarkLoadOnALargeStream measures a command's read of one aggregate
// (Store.Load, Store.LoadAfter: a Direct Get batch on the aggregate's
// wildcard filter) on a large ledger's stream, freshly started, beside
// the floor of a get of one message of the last block by sequence: a fresh id, and
// tokens written near the stream's start, middle and end. The first read
// after the start is reported apart (cold: nats-server loads each block's
// subject state it walks), then the median of the next ones. It needs a
// COPY of a data dir (nats-server rewrites its index files), e.g. one
// `tokenledger bench --sizes 1000000 --keep` preloaded:
//
//	cp -r /tmp/tokenledger-bench-*/data /tmp/ledger-copy
//	TOKENLEDGER_BENCH_NATS_DIR=/tmp/ledger-copy go test -run '^$' -bench '^BenchmarkLoadOnALargeStream$' -benchtime 1x ./internal/jsstore/
func BenchmarkLoadOnALargeStream(b *testing.B) {
	dir := os.Getenv("TOKENLEDGER_BENCH_NATS_DIR")
	if dir == "" {
		b.Skip("TOKENLEDGER_BENCH_NATS_DIR (a copy of a large ledger's data dir) is not set")
	}
	ctx := context.Background()
	cfg := jsstore.DefaultEmbedded(dir)
	cfg.OwnerPassword, cfg.FeedPassword = "bench-owner-pw", "bench-feed-pw"
	srv, err := jsstore.StartEmbedded(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo(jsstore.OwnerUser, "bench-owner-pw"),
		nats.CustomInboxPrefix(jsstore.OwnerInboxPrefix))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	st, err := jsstore.Open(ctx, nc, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	stream, err := js.Stream(ctx, "LEDGER")
	if err != nil {
		b.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("stream LEDGER: %d messages, %d subjects", info.State.Msgs, info.State.NumSubjects)
	tokenAt := func(seq uint64) (string, uint64) {
		for ; seq <= info.State.LastSeq; seq++ {
			m, err := stream.GetMsg(ctx, seq)
			if err != nil {
				b.Fatal(err)
			}
			if env, err := events.Unmarshal(m.Data); err == nil && env.AggregateKind == events.KindToken {
				return env.AggregateID, seq
			}
		}
		b.Fatalf("no token event from sequence %d", seq)
		return "", 0
	}
	const reads = 20
	measure := func(name string, fn func(i int) error) {
		var ds []time.Duration
		for i := range reads + 1 {
			t0 := time.Now()
			if err := fn(i); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			ds = append(ds, time.Since(t0))
		}
		first, rest := ds[0], ds[1:]
		slices.Sort(rest)
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
		b.ReportMetric(ms(first), name+"_first_ms")
		b.ReportMetric(ms(rest[len(rest)/2]), name+"_p50_ms")
	}
	b.ResetTimer()
	for range b.N {
		measure("floor_get_by_seq", func(i int) error {
			_, err := stream.GetMsg(ctx, info.State.LastSeq-uint64(i)) // the last block: in memory
			return err
		})
		measure("load_fresh", func(i int) error {
			_, err := st.Load(ctx, events.KindToken, fmt.Sprintf("0193a5b2-ffff-7000-8000-%012d", i))
			return err
		})
		for _, at := range []struct {
			name string
			seq  uint64
		}{{"start", 100}, {"middle", info.State.LastSeq / 2}, {"end", info.State.LastSeq - 2000}} {
			id, seq := tokenAt(at.seq)
			measure("load_token_"+at.name, func(int) error { _, err := st.Load(ctx, events.KindToken, id); return err })
			measure("load_after_token_"+at.name, func(int) error { _, err := st.LoadAfter(ctx, events.KindToken, id, seq); return err })
		}
	}
}
