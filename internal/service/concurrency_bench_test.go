package service_test

// Benchmarks of issue 16's concurrency goals, each beside its peer in the
// same run (the sub-benchmarks interleave under -count):
//
//	go test -run '^$' -bench '^BenchmarkCreateConcurrency16$' -benchtime 2000x -count 3 ./internal/service/
//	go test -run '^$' -bench '^BenchmarkValidateConcurrency16$' -benchtime 20000x -count 3 ./internal/service/
//
// BenchmarkCreateConcurrency16/ours: 16 keep-alive clients POST
// /api/admin/api-tokens to the real service on 127.0.0.1:0 with production
// durability (sync_interval: always), each waiting for its 201 (which
// waits for the projections: read-your-writes).
// BenchmarkCreateConcurrency16/raw_publish: 16 writers js.Publish the
// bytes of a stored token.created event (same size) into a LEDGER stream
// of another embedded server of the same configuration (file store, sync
// always), in-process like the ledger's own connection, each waiting for
// its ack.
//
// BenchmarkValidateConcurrency16/ours: 16 keep-alive clients POST
// /edge/validate with one valid token; floor_bare_http: the same clients
// against a bare net/http handler answering the same JSON.
//
// Each reports ops/s and the p50/p99 latency of one request (ms).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// benchConcurrency is the number of concurrent clients or writers.
const benchConcurrency = 16

// benchBudget bounds one sub-benchmark's wall time whatever b.N is.
const benchBudget = 3 * time.Minute

// runConcurrent runs b.N operations on workers goroutines (op gets the
// worker and the operation's number) and reports ops/s and the p50 and p99
// latency of one operation in milliseconds. It stops at the first error or
// when benchBudget has passed.
func runConcurrent(b *testing.B, workers int, op func(w, i int) error) {
	b.Helper()
	n := int64(b.N)
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	errs := make(chan error, workers)
	deadline := time.Now().Add(benchBudget)
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > n {
					return
				}
				if time.Now().After(deadline) {
					errs <- fmt.Errorf("over the %s budget after %d operations", benchBudget, i)
					return
				}
				start := time.Now()
				if err := op(w, int(i)); err != nil {
					errs <- err
					next.Store(n) // the others stop too
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	ms := func(q float64) float64 {
		return float64(all[min(len(all)-1, int(q*float64(len(all))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(ms(0.50), "p50_ms")
	b.ReportMetric(ms(0.99), "p99_ms")
}

// keepAliveClient is an HTTP client whose connections stay open between
// the requests of conc concurrent callers.
func keepAliveClient(conc int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
}

func BenchmarkCreateConcurrency16(b *testing.B) {
	s := servicetest.StartWith(b, "", nil, func(c *service.Config) { c.NoSync = false }) // production durability
	client := keepAliveClient(benchConcurrency)

	// The raw peer's payload: the bytes of a token.created event the
	// ledger stored for an HTTP create.
	s.CreateToken("backend", "development")
	last := s.LastEvent()
	if last.Type != events.TypeTokenCreated {
		b.Fatalf("last event %s, want %s", last.Type, events.TypeTokenCreated)
	}
	payload, err := events.Marshal(&last)
	if err != nil {
		b.Fatal(err)
	}
	js := rawJetStream(b)
	var round atomic.Int64

	b.Run("ours", func(b *testing.B) {
		r := round.Add(1)
		runConcurrent(b, benchConcurrency, func(_, i int) error {
			body := []byte(`{"tokenName":"bench-` + strconv.FormatInt(r, 10) + "-" + strconv.Itoa(i) + `","type":"backend","environment":"development"}`)
			req, _ := http.NewRequest("POST", s.URL()+"/api/admin/api-tokens", bytes.NewReader(body))
			req.Header.Set("Authorization", servicetest.AdminSecret)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("create: status %d", resp.StatusCode)
			}
			return nil
		})
	})
	b.Run("raw_publish", func(b *testing.B) {
		b.ReportMetric(float64(len(payload)), "bytes/event")
		r := round.Add(1)
		ctx := context.Background()
		runConcurrent(b, benchConcurrency, func(w, i int) error {
			subj := "ledger.token.raw-" + strconv.FormatInt(r, 10) + "-" + strconv.Itoa(i) + ".created"
			_, err := js.Publish(ctx, subj, payload)
			return err
		})
	})
}

// rawJetStream is an embedded server configured as the ledger's (file
// store, sync always) with the LEDGER stream, and an in-process JetStream
// client of the ledger's account on it.
func rawJetStream(b *testing.B) jetstream.JetStream {
	b.Helper()
	cfg := jsstore.DefaultEmbedded(b.TempDir())
	cfg.OwnerPassword, cfg.FeedPassword = "bench-owner", "bench-feed"
	srv, err := jsstore.StartEmbedded(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo(jsstore.OwnerUser, "bench-owner"),
		nats.CustomInboxPrefix(jsstore.OwnerInboxPrefix))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	st, err := jsstore.Open(context.Background(), nc, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return js
}

func BenchmarkValidateConcurrency16(b *testing.B) {
	s := servicetest.Start(b, "", nil)
	secret, _ := s.CreateToken("backend", "development", "default")
	body, _ := json.Marshal(map[string]any{"tokens": []string{secret}})
	client := keepAliveClient(benchConcurrency)
	answer, _ := json.Marshal(map[string]any{"tokens": []map[string]any{{"token": secret, "type": "backend",
		"projects": []string{"default"}, "environment": "development"}}})
	answer = append(answer, '\n') // as json.Encoder ends ours

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})}
	go func() { _ = bare.Serve(ln) }()
	b.Cleanup(func() { _ = bare.Close() })

	post := func(url string) error {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n != int64(len(answer)) {
			return fmt.Errorf("validate: status %d, %d bytes, want 200 and %d", resp.StatusCode, n, len(answer))
		}
		return nil
	}
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		url := s.URL() + "/edge/validate"
		runConcurrent(b, benchConcurrency, func(int, int) error { return post(url) })
	})
	b.Run("floor_bare_http", func(b *testing.B) {
		b.ReportAllocs()
		url := "http://" + ln.Addr().String() + "/edge/validate"
		runConcurrent(b, benchConcurrency, func(int, int) error { return post(url) })
	})
}
