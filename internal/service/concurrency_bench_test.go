package service_test

// Benchmarks of issue 16's concurrency goals. Each benchmark runs b.N
// operations of ours and b.N of its peer, alternating in 10 slices so that
// both see the same neighbours on a shared machine, and reports each
// side's ops/s, p50/p99 latency (ms) and their ratio, and process CPU per operation (the
// clients' included: both sides run in this process), and the ratio of
// ops/s ours/peer:
//
//	go test -run '^$' -bench '^BenchmarkCreateConcurrency16$' -benchtime 2000x -count 3 ./internal/service/
//	go test -run '^$' -bench '^BenchmarkValidateConcurrency16$' -benchtime 20000x -count 3 ./internal/service/
//
// BenchmarkCreateConcurrency16: ours is 16 keep-alive clients POSTing
// /api/admin/api-tokens to the real service on 127.0.0.1:0 with production
// durability (sync_interval: always), each waiting for its 201 (which
// waits for the projections: read-your-writes); raw is 16 writers
// js.Publishing the bytes of a stored token.created event (same size)
// into a LEDGER stream of another embedded server of the same
// configuration (file store, sync always), in-process like the ledger's
// own connection, each waiting for its ack.
//
// BenchmarkValidateConcurrency16: ours is 16 keep-alive clients POSTing
// /edge/validate with one valid token; bare is the same clients against a
// bare net/http handler answering the same JSON.

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
	"syscall"
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

// benchBudget bounds one benchmark's wall time whatever b.N is.
const benchBudget = 3 * time.Minute

// benchChunks is how many alternating slices the operations of each side
// of a comparison are cut into: on a shared, noisy machine both sides then
// see the same neighbours.
const benchChunks = 10

// side is one side of a comparison: its operation (given the worker and
// the operation's number), and what runConcurrent measured.
type side struct {
	name    string
	op      func(w, i int) error
	lat     []time.Duration
	elapsed time.Duration
	cpu     time.Duration // the process's CPU time (user and system) during the side's slices
}

// compare runs b.N operations of each side on benchConcurrency goroutines,
// alternating between the sides in benchChunks slices, and reports each
// side's ops/s and p50/p99 latency (ms) and the ratio of their ops/s
// (first over second). It stops at the first error or when benchBudget
// has passed.
func compare(b *testing.B, ours, peer *side) {
	b.Helper()
	deadline := time.Now().Add(benchBudget)
	chunk := max(1, b.N/benchChunks)
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for _, s := range []*side{ours, peer} {
			if err := s.run(done, n, deadline); err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
		}
	}
	b.StopTimer()
	for _, s := range []*side{ours, peer} {
		slices.Sort(s.lat)
		ms := func(q float64) float64 {
			return float64(s.lat[min(len(s.lat)-1, int(q*float64(len(s.lat))))]) / float64(time.Millisecond)
		}
		b.ReportMetric(float64(len(s.lat))/s.elapsed.Seconds(), s.name+"_ops/s")
		b.ReportMetric(ms(0.50), s.name+"_p50_ms")
		b.ReportMetric(ms(0.99), s.name+"_p99_ms")
		b.ReportMetric(ms(0.99)/ms(0.50), s.name+"_p99/p50")
		b.ReportMetric(float64(s.cpu.Microseconds())/float64(len(s.lat)), s.name+"_cpu_µs/op")
	}
	b.ReportMetric((float64(len(ours.lat))/ours.elapsed.Seconds())/(float64(len(peer.lat))/peer.elapsed.Seconds()), "ratio")
}

// run does the operations from+1 … from+n on benchConcurrency goroutines.
func (s *side) run(from, n int, deadline time.Time) error {
	var next atomic.Int64
	next.Store(int64(from))
	last := int64(from + n)
	lat := make([][]time.Duration, benchConcurrency)
	errs := make(chan error, benchConcurrency)
	start, cpu := time.Now(), processCPU()
	var wg sync.WaitGroup
	for w := range benchConcurrency {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > last {
					return
				}
				if time.Now().After(deadline) {
					errs <- fmt.Errorf("over the %s budget", benchBudget)
					return
				}
				t := time.Now()
				if err := s.op(w, int(i)); err != nil {
					errs <- err
					next.Store(last) // the others stop too
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	s.elapsed += time.Since(start)
	s.cpu += processCPU() - cpu
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	s.lat = append(s.lat, slices.Concat(lat...)...)
	return nil
}

// processCPU is the CPU time the process used so far (user and system):
// servers, clients and peers all run in it, so a side's share is its
// whole cost on this machine, whatever the neighbours do to wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// production is the test service's configuration changed to production's
// durability (sync_interval: always) and expiry period (the kit's 50 ms
// sweep would charge both sides of a comparison with background work).
func production(c *service.Config) {
	c.NoSync = false
	c.ExpiryEvery = time.Second // serve's default --expiry-interval
}

// keepAliveClient is an HTTP client whose connections stay open between
// the requests of conc concurrent callers.
func keepAliveClient(conc int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
}

func BenchmarkCreateConcurrency16(b *testing.B) {
	s := servicetest.StartWith(b, "", nil, production)
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
	ctx := context.Background()
	var round atomic.Int64
	r := strconv.FormatInt(round.Add(1), 10)

	ours := &side{name: "ours", op: func(_, i int) error {
		body := []byte(`{"tokenName":"bench-` + r + "-" + strconv.Itoa(i) + `","type":"backend","environment":"development"}`)
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
	}}
	raw := &side{name: "raw", op: func(_, i int) error {
		_, err := js.Publish(ctx, "ledger.token.raw-"+r+"-"+strconv.Itoa(i)+".created", payload)
		return err
	}}
	compare(b, ours, raw)
	b.ReportMetric(float64(len(payload)), "bytes/event")
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
	s := servicetest.StartWith(b, "", nil, productionEdge)
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
	oursURL := s.URL() + "/edge/validate" // once, like the bare one's
	ours := &side{name: "ours", op: func(int, int) error { return post(oursURL) }}
	bareURL := "http://" + ln.Addr().String() + "/edge/validate"
	floor := &side{name: "bare", op: func(int, int) error { return post(bareURL) }}
	compare(b, ours, floor)
}
