package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Curve is every figure of one ledger size, each beside its floor from
// the same run.
type Curve struct {
	Tokens int `json:"tokens"`
	// Preload is how the tokens were written: through the ledger's own
	// command handler in this process (sync off while preloading), then
	// served by a spawned "tokenledger serve" at sync_interval: always.
	PreloadSeconds float64 `json:"preload_seconds"`
	PreloadRate    float64 `json:"preload_per_s"`
	// Create: POST /api/admin/api-tokens at concurrency 1, beside one raw
	// JetStream publish.
	CreateP50ms      float64 `json:"create_p50_ms"`
	CreateP99ms      float64 `json:"create_p99_ms"`
	CreateFloorP50ms float64 `json:"create_floor_p50_ms"`
	// Verify: tokenset.VerifyAt in this process over a set of this size,
	// secrets in random order, beside SHA-256 and a Go map probe.
	VerifyNs      float64 `json:"verify_ns"`
	VerifyFloorNs float64 `json:"verify_floor_ns"`
	// List: GET /api/admin/api-tokens of every token, beside a bare
	// net/http handler answering the same bytes.
	ListP50ms      float64 `json:"list_p50_ms"`
	ListFloorP50ms float64 `json:"list_floor_p50_ms"`
	ListBytes      int     `json:"list_bytes"`
	// Memory of the spawned server after the creates, beside the same
	// server started on an empty data dir.
	RSSBytes      int64 `json:"rss_bytes"`
	EmptyRSSBytes int64 `json:"empty_rss_bytes"`
	HeapBytes     int64 `json:"heap_bytes"`
	HeapPerToken  int64 `json:"heap_per_token_bytes"`
	// Cold start: spawn to /health 200 and to /ready 200 (every event
	// replayed), medians of --cold-starts, beside a spawn of "version".
	ColdHealthMs float64 `json:"cold_start_health_ms"`
	ColdReadyMs  float64 `json:"cold_start_ready_ms"`
	ColdFloorMs  float64 `json:"cold_start_floor_ms"`
}

// curves preloads a ledger to each of --sizes in turn and measures every
// figure there, then prints a Markdown table and writes --svg.
func (r *runner) curves(ctx context.Context) (err error) {
	defer func() {
		if terr := r.tearDown(); err == nil {
			err = terr
		}
	}()
	if err := r.setUpFloors(ctx); err != nil {
		return err
	}
	admin, err := adminSecret()
	if err != nil {
		return err
	}
	r.report.Server = "spawned"
	r.spec = &serverSpec{exe: r.env.Executable, env: r.env.ChildEnv, dataDir: filepath.Join(r.tmp, "data"), admin: admin, args: r.o.serveArgs}
	// The empty ledger: the memory floor.
	if r.srv, _, err = r.spec.start(ctx, r.hc, r.o.startLimit); err != nil {
		return err
	}
	r.l = &ledger{base: r.srv.url, token: admin, http: r.hc}
	empty, err := r.memory(ctx, 0)
	if err != nil {
		return err
	}
	have := r.tokens(ctx)
	if err := r.srv.stop(); err != nil {
		return err
	}
	r.srv = nil
	printHeader(r.out)
	for _, size := range r.o.sizes {
		c := Curve{Tokens: size}
		if missing := size - have; missing > 0 {
			took, err := r.preload(ctx, admin, missing)
			if err != nil {
				return err
			}
			c.PreloadSeconds, c.PreloadRate = round(took.Seconds(), 1), round(float64(missing)/took.Seconds(), 0)
		}
		if r.o.heapProfile != "" {
			if err := r.writeHeapProfile(ctx, admin, fmt.Sprintf("%s.%d", r.o.heapProfile, size)); err != nil {
				return err
			}
		}
		var health, ready, floor []time.Duration
		for range r.o.coldStarts {
			if r.srv != nil {
				if err := r.srv.stop(); err != nil {
					return err
				}
			}
			s, t, err := r.spec.start(ctx, r.hc, r.o.startLimit)
			if err != nil {
				return fmt.Errorf("cold start at %d tokens: %w", size, err)
			}
			r.srv = s
			health, ready = append(health, t.health), append(ready, t.ready)
			f, err := r.spawnFloor(ctx)
			if err != nil {
				return err
			}
			floor = append(floor, f)
		}
		r.l = &ledger{base: r.srv.url, token: admin, http: r.hc}
		c.ColdHealthMs, c.ColdReadyMs, c.ColdFloorMs = ms(percentile(health, 50)), ms(percentile(ready, 50)), ms(percentile(floor, 50))
		fmt.Fprintf(r.out, resultRow, "cold_start_ready", 1, size, len(ready), "-", num(c.ColdReadyMs), num(ms(percentile(ready, 99))),
			"spawn of `version`", "-", num(c.ColdFloorMs), num(ms(percentile(floor, 99))), "-")

		if err := r.create(ctx, 1, r.o.curveCount, r.o.duration); err != nil {
			return err
		}
		res := r.report.Results[len(r.report.Results)-1]
		c.CreateP50ms, c.CreateP99ms, c.CreateFloorP50ms = res.Ours.P50ms, res.Ours.P99ms, res.Floor.P50ms

		m, err := r.memory(ctx, r.tokens(ctx))
		if err != nil {
			return err
		}
		m.EmptyRSS, m.EmptyHeap = empty.RSSBytes, empty.HeapBytes
		m.HeapPerToken = (m.HeapBytes - empty.HeapBytes) / int64(max(m.Tokens, 1))
		r.report.Memory = append(r.report.Memory, m)
		c.RSSBytes, c.EmptyRSSBytes, c.HeapBytes, c.HeapPerToken = m.RSSBytes, empty.RSSBytes, m.HeapBytes, m.HeapPerToken

		if err := r.list(ctx, r.o.curveCount, r.o.duration); err != nil {
			return err
		}
		res = r.report.Results[len(r.report.Results)-1]
		c.ListP50ms, c.ListFloorP50ms = res.Ours.P50ms, res.Floor.P50ms
		_, body, err := r.l.list(ctx)
		if err != nil {
			return err
		}
		c.ListBytes = len(body)
		have = r.tokens(ctx)
		if err := r.srv.stop(); err != nil {
			return err
		}
		r.srv = nil

		c.VerifyNs, c.VerifyFloorNs = verifyCurve(ctx, size, r.o.verifyOps, r.o.rounds, r.o.duration)
		fmt.Fprintf(r.out, "%-20s %5v %9v %7v %10s %10s %10s   %-26s %10s %10s %10s %6.2f\n", "verify (ns/op)", 1, size, r.o.verifyOps, "-",
			num(c.VerifyNs), "-", "SHA-256 + Go map", "-", num(c.VerifyFloorNs), "-", c.VerifyNs/c.VerifyFloorNs)
		printMemoryHeader(r.out)
		printMemory(r.out, m)
		r.report.Curves = append(r.report.Curves, c)
	}
	printCurvesMarkdown(r.out, r.report.Curves)
	if r.o.svgFile != "" {
		if err := os.WriteFile(r.o.svgFile, curvesSVG(r.report.Curves), 0o644); err != nil {
			return fmt.Errorf("bench: write the chart: %w", err)
		}
	}
	return nil
}

// spawnFloor is the cold-start floor: a spawn of the same executable
// that exits at once.
func (r *runner) spawnFloor(ctx context.Context) (time.Duration, error) {
	cmd := execCommand(ctx, r.env.Executable, r.env.ChildEnv, "version")
	t0 := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("bench: cold start floor: %s version: %w: %s", r.env.Executable, err, out)
	}
	return time.Since(t0), nil
}

// preload writes n backend tokens into the data dir through the ledger's
// own command handler, in this process (the same decisions, events,
// signatures and appends as over HTTP, without HTTP), from
// --preload-concurrency goroutines. The stream is written without fsync
// per append, which only a crash could notice; the spawned server then
// serves it at sync_interval: always.
func (r *runner) preload(ctx context.Context, admin string, n int) (time.Duration, error) {
	m, err := r.startInProcess(ctx, admin, "off")
	if err != nil {
		return 0, fmt.Errorf("bench: preload: %w", err)
	}
	meta := commands.Meta{Actor: events.System, Via: events.Via{CredentialType: "internal", RequestID: "bench-preload"}}
	done := 0
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	t0 := time.Now()
	s, err := runLoad(ctx, r.o.preloadConc, n, r.o.maxDuration, func(ctx context.Context, i int) error {
		_, err := m.Commands.CreateToken(ctx, meta, commands.CreateToken{Type: events.TokenBackend, Name: "preload-" + r.runID + "-" + strconv.Itoa(i),
			Environment: "development", Projects: []string{"default"}, Path: events.PathAdminAPI})
		select {
		case <-progress.C:
			fmt.Fprintf(r.env.Stderr, "bench: preloading: %d of %d tokens, %.0f/s\n", i, n, float64(i)/time.Since(t0).Seconds())
		default:
		}
		return err
	})
	took := time.Since(t0)
	done = len(s.lat)
	if cerr := m.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("bench: preload: stop the ledger: %w", cerr)
	}
	m = nil
	runtime.GC()
	if err != nil {
		return 0, fmt.Errorf("bench: preload: %w", err)
	}
	if done < n {
		return 0, fmt.Errorf("bench: preload: only %d of %d tokens before the run was stopped or --max-duration passed", done, n)
	}
	fmt.Fprintf(r.env.Stderr, "bench: preloaded %d tokens in %s (%.0f/s)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return took, nil
}

// startInProcess runs the ledger on the data dir in this process, without
// listeners, and returns it once its projections caught up.
func (r *runner) startInProcess(ctx context.Context, admin, natsListen string) (*service.Main, error) {
	getenv := func(k string) string {
		if k == "INIT_ADMIN_API_TOKENS" {
			return admin
		}
		return ""
	}
	cfg, err := service.ParseConfig([]string{"--data-dir", r.spec.dataDir, "--listen", "127.0.0.1:0", "--nats-listen", natsListen,
		"--log-level", "error"}, getenv)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	cfg.NoSync, cfg.LogOutput = true, io.Discard
	m := service.NewMain(cfg)
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("bench: start the ledger in-process: %w", err)
	}
	return m, nil
}

// writeHeapProfile starts the ledger on the data dir in this process,
// collects garbage and writes a heap profile of what it holds (go tool
// pprof -sample_index=inuse_space shows where the bytes go).
func (r *runner) writeHeapProfile(ctx context.Context, admin, path string) error {
	// Sample every 4 KiB allocated instead of 512 KiB: per-token structures
	// are small. Only the in-process start below is profiled this finely.
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	runtime.MemProfileRate = 4096
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	// With a NATS listener, as served: the readers' feed is published too.
	m, err := r.startInProcess(ctx, admin, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer m.Close()
	if err := waitFeed(ctx, &ledger{base: m.URL(), http: r.hc}); err != nil {
		return err
	}
	runtime.GC()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	n := m.Tokens.Len()
	fmt.Fprintf(r.env.Stderr, "bench: heap profile of the ledger in-process at %d tokens in %s: %d B live heap, %d B per token\n",
		n, path, after.HeapAlloc-before.HeapAlloc, int64(after.HeapAlloc-before.HeapAlloc)/int64(max(n, 1)))
	return nil
}

// waitFeed waits until the ledger's feed publisher has stood still for 3 s
// (it caught up with the stream).
func waitFeed(ctx context.Context, l *ledger) error {
	var last float64 = -1
	still := time.Now()
	for time.Since(still) < 3*time.Second {
		m, err := l.metrics(ctx, "tokenledger_feed_last_ledger_sequence")
		if err != nil {
			return err
		}
		if v := m["tokenledger_feed_last_ledger_sequence"]; v != last {
			last, still = v, time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// verifyCurve builds a token set of size client tokens in this process and
// returns the time of one Verify (Set.Check, as the HTTP server verifies)
// of a known secret (random order: over a
// large set, each a cache miss) and of the floor, SHA-256 and a probe of a
// Go map holding the same keys, alternating rounds of up to ops calls each.
func verifyCurve(ctx context.Context, size, ops, rounds int, limit time.Duration) (oursNs, floorNs float64) {
	set := tokenset.New()
	floor := make(map[[32]byte]int32, size)
	secrets := make([]string, size)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range secrets {
		secrets[i] = fmt.Sprintf("default:development.%064x", uint64(i)*7919+1)
		floor[events.Verifier(secrets[i])] = int32(i)
		env, err := events.New(fmt.Sprintf("01BENCH%019d", i), "tok-"+strconv.Itoa(i), events.TokenCreated{TokenType: events.TokenClient,
			Name: "sdk", Environment: "development", Projects: []string{"default"}, Path: events.PathAdminAPI,
			Verifier: events.VerifierHex(secrets[i]), Hint: secrets[i][:4] + "…" + secrets[i][len(secrets[i])-4:]}, t0)
		if err != nil {
			panic(err) // a fixed, valid payload
		}
		env.Sequence = uint64(i + 1)
		env.Actor = events.System
		if err := set.Apply(env); err != nil {
			panic(err)
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(size, func(i, j int) { secrets[i], secrets[j] = secrets[j], secrets[i] })
	now := t0.Add(time.Hour)
	per := max(ops/max(rounds, 1), 1)
	var oursN, floorN int
	var oursT, floorT time.Duration
	deadline := time.Now().Add(limit)
	bad := 0
	for range max(rounds, 1) {
		start := time.Now()
		n := 0
		for ; n < per && ctx.Err() == nil; n++ {
			if _, st := set.Check(secrets[n%size], now); st != tokenset.Valid {
				bad++
			}
			if n&4095 == 4095 && time.Now().After(deadline) {
				break
			}
		}
		oursT, oursN = oursT+time.Since(start), oursN+n
		start = time.Now()
		n = 0
		for ; n < per && ctx.Err() == nil; n++ {
			if _, ok := floor[events.Verifier(secrets[n%size])]; !ok {
				bad++
			}
			if n&4095 == 4095 && time.Now().After(deadline) {
				break
			}
		}
		floorT, floorN = floorT+time.Since(start), floorN+n
	}
	if bad > 0 {
		panic(fmt.Sprintf("bench: %d known secrets were not valid", bad))
	}
	return round(float64(oursT.Nanoseconds())/float64(max(oursN, 1)), 1), round(float64(floorT.Nanoseconds())/float64(max(floorN, 1)), 1)
}

// printCurvesMarkdown prints the curves as the README's table.
func printCurvesMarkdown(w io.Writer, cs []Curve) {
	fmt.Fprintln(w, "\n| tokens | create p50 (floor: raw publish) | `Verify` (floor: SHA-256 + map) | list p50 (floor: bare handler) | RSS (empty server) | heap per token | cold start to /health, /ready (floor: spawn) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, c := range cs {
		fmt.Fprintf(w, "| %d | %s ms (%s ms) | %s ns (%s ns) | %s ms (%s ms), %.1f MB | %.0f MiB (%.0f MiB) | %d B | %s ms, %s ms (%s ms) |\n",
			c.Tokens, num(c.CreateP50ms), num(c.CreateFloorP50ms), num(c.VerifyNs), num(c.VerifyFloorNs),
			num(c.ListP50ms), num(c.ListFloorP50ms), float64(c.ListBytes)/1e6,
			float64(c.RSSBytes)/(1<<20), float64(c.EmptyRSSBytes)/(1<<20), c.HeapPerToken,
			num(c.ColdHealthMs), num(c.ColdReadyMs), num(c.ColdFloorMs))
	}
}
