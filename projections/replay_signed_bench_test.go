package projections_test

// Replay of a stream of signed events into the token set with the
// integrity checks, beside the same replay unchecked and a raw ordered
// consumer that only counts the messages. The stream is the ledger's as a
// start finds it: each event stored with the headers of jsstore's append,
// the embedded server restarted on its data dir after the writes
// (filledAndRestarted). The cases are interleaved in each iteration so
// that every rate comes from the same moment of the machine; each case's
// CPU time per event (all threads, the in-process NATS server included) is
// reported too. The collector's target is the test binary's default,
// GOGC=100: what "tokenledger serve" sets while its start replays the
// stream (cmd/tokenledger's catchUpGCPercent):
//
//	TOKENLEDGER_BENCH_EVENTS=1000000 go test -run '^$' -bench '^BenchmarkReplaySignatureChecks$' -benchtime 2x -timeout 60m ./projections/
//
// checkpoint_covered is the service's start-up replay when the stream's
// last signed checkpoint covers it, through a projections.Runner as the
// service runs it: the key chain is followed without per-event Ed25519
// checks (Chain.TrustThrough) and the integrity projection hashes every
// stored record into the Merkle tree (on the decoding goroutine, ahead of
// the apply), whose root is compared with the checkpoint's at the end. every_signature checks
// each event's hash and signature (a stream without a checkpoint) as the
// service's Runner does (ledgerkey.Chain.Precheck on runs of events, on all
// CPUs, then the chain in order); it runs up to 100,000 events.

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/catchupgc"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

func BenchmarkReplaySignatureChecks(b *testing.B) {
	n := benchEvents()
	key, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	store, js := filledAndRestarted(b, n, key)
	last := uint64(n)

	// The root a checkpoint of the whole stream signs.
	tree := integrity.NewLog()
	if err := store.Replay(ctx, 1, last, tree.Apply); err != nil {
		b.Fatal(err)
	}
	want, err := tree.Tree().Root(int64(last))
	if err != nil {
		b.Fatal(err)
	}

	cases := []struct {
		name string
		run  func(b *testing.B)
	}{
		// The floor reads the stream under the collector setting the
		// service's catch-up runs at (catchupgc.Relax), as do the others.
		{"raw_ordered_consumer", func(b *testing.B) { defer catchupgc.Relax()(); rawCount(b, js, n) }},
		{"unchecked", func(b *testing.B) {
			defer catchupgc.Relax()()
			set := tokenset.New()
			if err := store.Replay(ctx, 1, last, set.Apply); err != nil {
				b.Fatal(err)
			}
		}},
		{"checkpoint_covered", func(b *testing.B) {
			// As the service replays: a Runner whose Verify follows the
			// key chain and whose integrity projection hashes each record
			// (Prepare, on the decoding goroutine) into the tree.
			set, log := tokenset.New(), integrity.NewLog()
			chain, err := ledgerkey.NewChain(key.VerifierKey())
			if err != nil {
				b.Fatal(err)
			}
			chain.TrustThrough(last)
			r := projections.NewRunner(store, set, log)
			r.Verify = chain.Check
			r.DuringCatchUp = catchupgc.Relax
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- r.Run(rctx) }()
			err = r.WaitFor(rctx, last)
			cancel()
			<-done
			if err != nil {
				b.Fatal(err)
			}
			if got, err := log.Tree().Root(int64(last)); err != nil || got != want {
				b.Fatalf("root %v, want %v (%v)", got, want, err)
			}
		}},
		{"every_signature", func(b *testing.B) {
			// As the service replays: a Runner whose chain prechecks the
			// hashes and signatures of each run on all CPUs.
			set := tokenset.New()
			chain, err := ledgerkey.NewChain(key.VerifierKey())
			if err != nil {
				b.Fatal(err)
			}
			r := projections.NewRunner(store, set)
			r.Verify, r.Precheck = chain.Check, chain.Precheck
			r.DuringCatchUp = catchupgc.Relax
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- r.Run(rctx) }()
			err = r.WaitFor(rctx, last)
			cancel()
			<-done
			if err != nil {
				b.Fatal(err)
			}
		}},
	}
	if n > 100_000 {
		// Ed25519 at every event: minutes a run at a million; the
		// default run (100,000) measures it.
		cases = cases[:3]
	}
	took := make([]time.Duration, len(cases))
	cpu := make([]time.Duration, len(cases))
	b.ResetTimer()
	for b.Loop() {
		for i, c := range cases {
			if !benchCaseWanted(b, c.name) {
				continue
			}
			start, startCPU := time.Now(), cpuTime()
			profiled(b, c.name, func() { c.run(b) })
			took[i] += time.Since(start)
			cpu[i] += cpuTime() - startCPU
		}
	}
	for i, c := range cases {
		if took[i] == 0 {
			continue
		}
		b.ReportMetric(float64(n)*float64(b.N)/took[i].Seconds(), c.name+"_events/s")
		b.ReportMetric(float64(cpu[i].Nanoseconds())/(float64(n)*float64(b.N))/1e3, c.name+"_cpu_us/event")
	}
	if took[1] > 0 && took[2] > 0 {
		b.ReportMetric(took[1].Seconds()/took[2].Seconds(), "covered/unchecked")
	}
}

// filledAndRestarted fills a stream of n signed events (fillSignedStream),
// then stops the embedded server and starts another on its data dir, and
// connects to it in process as the service does, as a ledger's start
// finds its stream: recovered from disk, without the state
// the writes left in memory (nats-server keeps each message block's
// per-subject state for two minutes after its last write, which a replay
// right after the fill would mark at every collection). It returns the
// store and a JetStream context on a connection to the new server.
func filledAndRestarted(b *testing.B, n int, sign events.Signer) (*jsstore.Store, jetstream.JetStream) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	srv := natstest.RunServerAt(b, dir)
	nc := natstest.Connect(b, srv)
	first, err := jsstore.Open(ctx, nc, jsstore.Config{Duplicates: benchDuplicates})
	if err != nil {
		b.Fatal(err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	fillSignedStream(b, js, n, sign)
	time.Sleep(2 * benchDuplicates) // every event is out of the window
	_ = first.Close()
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()

	srv = natstest.RunServerAt(b, dir)
	// The ledger talks to its embedded server in process (no socket);
	// TOKENLEDGER_BENCH_CONN=tcp reads over loopback TCP instead.
	var conn []nats.Option
	if os.Getenv("TOKENLEDGER_BENCH_CONN") != "tcp" {
		conn = append(conn, nats.InProcessServer(srv))
	}
	nc = natstest.Connect(b, srv, conn...)
	store, err := jsstore.Open(ctx, nc, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	if js, err = jetstream.New(nc); err != nil {
		b.Fatal(err)
	}
	return store, js
}

// benchDuplicates is the duplicates window of the stream filledAndRestarted
// fills: short, so that the restarted server rebuilds its deduplication
// map from the events of that window only, as a ledger's start after
// its last two minutes of writes does (nats-server's rebuildDedupe). A
// million events written in a minute and restarted at once would keep a
// map of every message id live (220 MB, scanned by every collection)
// throughout the replay.
const benchDuplicates = time.Second
