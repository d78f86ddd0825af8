// Benchmarks of the JetStream store against raw JetStream on the same
// embedded server (loopback TCP, file storage). Each "ours" benchmark has a
// "raw" twin measured in the same run, so their ratio is what to read.
//
// Appends, one at a time (SyncAlways on = production, and off):
//
//	go test -run '^$' -bench '^BenchmarkAppend$' -benchmem -count 3 ./internal/jsstore/
//
// Appends from 64 concurrent writers vs raw PublishAsync with a window of 64:
//
//	go test -run '^$' -bench '^BenchmarkAppendPipelined$' -benchmem -count 3 ./internal/jsstore/
//
// Replay of a pre-filled stream (100,000 events by default; the README
// figure uses 1,000,000):
//
//	go test -run '^$' -bench '^BenchmarkReplay$' -benchmem -count 3 ./internal/jsstore/
//	TOKENLEDGER_BENCH_EVENTS=1000000 go test -run '^$' -bench '^BenchmarkReplay$' -benchtime 3x -timeout 30m ./internal/jsstore/
package jsstore_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// benchEnv is an embedded server on loopback with the store open on it.
type benchEnv struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	store *jsstore.Store
}

func startBench(b *testing.B, syncAlways bool) *benchEnv {
	b.Helper()
	srv, err := jsstore.StartEmbedded(context.Background(), jsstore.EmbeddedConfig{DataDir: b.TempDir(), Listen: "127.0.0.1:0", SyncAlways: syncAlways, FeedPassword: "bench-feed",
		OwnerPassword: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(jsstore.OwnerUser, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	st, err := jsstore.Open(context.Background(), nc, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return &benchEnv{nc: nc, js: js, store: st}
}

// aggregates is a round-robin set of token aggregates, each with a sealed
// token.created envelope reused for its appends and its last sequence.
type aggregates struct {
	envs []events.Envelope
	last []uint64
	raw  [][]byte // the marshalled envelopes: the raw twin's payload
	subj []string
}

func newAggregates(tb testing.TB, n int) *aggregates {
	a := &aggregates{envs: make([]events.Envelope, n), last: make([]uint64, n), raw: make([][]byte, n), subj: make([]string, n)}
	for i := range n {
		e := benchEnvelope(tb)
		a.envs[i] = e
		b, err := events.Marshal(&e)
		if err != nil {
			tb.Fatal(err)
		}
		a.raw[i] = b
		a.subj[i] = e.Subject()
	}
	return a
}

// benchEnvelope is a sealed token.created envelope of about 400 bytes: a
// client token for one project, created by a user with a PAT.
func benchEnvelope(tb testing.TB) events.Envelope {
	p := storetest.TokenCreated()
	p.Projects, p.ExpiresAt, p.Hint = []string{"checkout"}, nil, "*:production.1a2b…9f0e"
	e, err := events.New(storetest.NewEventID(), storetest.NewAggregateID(), p, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	e.Actor = events.Actor{Kind: events.ActorUser, ID: "42"}
	e.Via = events.Via{CredentialID: "pat-7"}
	if err := e.Seal(); err != nil {
		tb.Fatal(err)
	}
	return e
}

var benchModes = []struct {
	name       string
	syncAlways bool
}{
	{"sync=always", true},
	{"sync=default", false},
}

func BenchmarkAppend(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			e := startBench(b, mode.syncAlways)
			aggs := newAggregates(b, 1000)
			b.Logf("envelope %d bytes", len(aggs.raw[0]))
			ctx := context.Background()
			var cmd atomic.Uint64

			b.Run("ours", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					k := i % len(aggs.envs)
					i++
					seq, err := e.store.Append(ctx, commands.Append{
						Event:    aggs.envs[k],
						Expected: aggs.last[k],
						MsgID:    "bench-" + strconv.FormatUint(cmd.Add(1), 10),
					})
					if err != nil {
						b.Fatal(err)
					}
					aggs.last[k] = seq.Seq
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
			b.Run("raw", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					k := i % len(aggs.raw)
					i++
					if _, err := e.js.Publish(ctx, aggs.subj[k], aggs.raw[k]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		})
	}
}

// pipelineWindow is the number of concurrent appenders, and the raw twin's
// async publish window.
const pipelineWindow = 64

func BenchmarkAppendPipelined(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			e := startBench(b, mode.syncAlways)
			ctx := context.Background()
			var cmd atomic.Uint64

			b.Run("ours", func(b *testing.B) {
				// Each worker owns its aggregates: no conflicts, so the
				// figure is the store's throughput, not a retry storm.
				workers := make([]*aggregates, pipelineWindow)
				for w := range workers {
					workers[w] = newAggregates(b, 16)
				}
				var next atomic.Int64 // work items handed out
				n := int64(b.N)
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				errs := make(chan error, pipelineWindow)
				for w := range workers {
					aggs := workers[w]
					wg.Go(func() {
						for i := 0; next.Add(1) <= n; i++ {
							k := i % len(aggs.envs)
							seq, err := e.store.Append(ctx, commands.Append{
								Event:    aggs.envs[k],
								Expected: aggs.last[k],
								MsgID:    "bench-" + strconv.FormatUint(cmd.Add(1), 10),
							})
							if err != nil {
								errs <- err
								return
							}
							aggs.last[k] = seq.Seq
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
			b.Run("raw", func(b *testing.B) {
				var failed atomic.Int64
				js, err := jetstream.New(e.nc, jetstream.WithPublishAsyncMaxPending(pipelineWindow),
					jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
				if err != nil {
					b.Fatal(err)
				}
				aggs := newAggregates(b, 1000)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					k := i % len(aggs.raw)
					if _, err := js.PublishAsync(aggs.subj[k], aggs.raw[k]); err != nil {
						b.Fatal(err)
					}
				}
				select {
				case <-js.PublishAsyncComplete():
				case <-time.After(time.Minute):
					b.Fatal("async publishes not acknowledged within a minute")
				}
				b.StopTimer()
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d async publishes failed", n)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		})
	}
}

// benchEvents is the size of the replayed stream: TOKENLEDGER_BENCH_EVENTS
// or 100,000.
func benchEvents(b *testing.B) int {
	if v := os.Getenv("TOKENLEDGER_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("TOKENLEDGER_BENCH_EVENTS=%q: want a positive integer", v)
		}
		return n
	}
	return 100_000
}

func BenchmarkReplay(b *testing.B) {
	k := benchEvents(b)
	// Fill fast: SyncAlways does not change how reads perform.
	e := startBench(b, false)
	fill(b, e.js, k)
	ctx := context.Background()

	b.Run(fmt.Sprintf("events=%d/ours", k), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n int
			err := e.store.Replay(ctx, 1, uint64(k), func(ev events.Envelope) error {
				n++
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if n != k {
				b.Fatalf("replayed %d events, want %d", n, k)
			}
		}
		b.ReportMetric(float64(k)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run(fmt.Sprintf("events=%d/raw", k), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if n := countRaw(b, e.js, k); n != k {
				b.Fatalf("counted %d messages, want %d", n, k)
			}
		}
		b.ReportMetric(float64(k)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// fill publishes k envelopes over 1,000 aggregates with async publish.
func fill(b *testing.B, js0 jetstream.JetStream, k int) {
	b.Helper()
	js, err := jetstream.New(js0.Conn(), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	aggs := newAggregates(b, 1000)
	for i := range k {
		j := i % len(aggs.raw)
		if _, err := js.PublishAsync(aggs.subj[j], aggs.raw[j]); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(10 * time.Minute):
		b.Fatal("fill not acknowledged")
	}
	info, err := js.Stream(context.Background(), "LEDGER")
	if err != nil {
		b.Fatal(err)
	}
	if got := info.CachedInfo().State.Msgs; got != uint64(k) {
		b.Fatalf("stream holds %d messages after the fill, want %d", got, k)
	}
}

// countRaw reads the whole stream with an ordered consumer and only counts.
func countRaw(b *testing.B, js jetstream.JetStream, k int) int {
	ctx := context.Background()
	cons, err := js.OrderedConsumer(ctx, "LEDGER", jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	var n int
	done := make(chan struct{})
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		n++
		if n == k {
			close(done)
		}
	}, jetstream.PullMaxMessages(4096))
	if err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		b.Fatal("raw replay did not finish")
	}
	cc.Stop()
	if info := cons.CachedInfo(); info != nil {
		_ = js.DeleteConsumer(ctx, "LEDGER", info.Name)
	}
	return n
}
