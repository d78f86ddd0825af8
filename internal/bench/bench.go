// Package bench is "tokenledger bench": the standard workloads an
// operator sizes a ledger with, run against a "tokenledger serve" the tool
// starts itself (a temporary data dir, free loopback ports, a fresh
// bootstrap admin token, sync_interval: always as in production) or against
// a running ledger (--server, the admin credential in TOKENLEDGER_TOKEN).
//
// Workloads: create at several concurrencies, validate (/edge/validate),
// list, revoke-to-rejection, cold start and memory. Every workload is
// bounded in count and in time, and runs interleaved with its floor in the
// same run where one exists: a bare net/http handler answering the same
// bytes for validate and list, a raw JetStream publish of the same size at
// sync_interval: always (an embedded nats-server the tool starts) for
// create and revoke, a spawn of the same executable that exits at once for
// cold start, and the freshly started empty server for memory. The table
// has n, rate, p50 and p99 of both; --json writes them.
//
// With --sizes the tool draws cost curves instead: it preloads the ledger
// to each size in turn and measures create latency, Verify, list time,
// memory and cold start there (see [Curve]).
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Env is what the command needs from the process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Executable is the tokenledger binary whose "serve" (and "version",
	// the cold-start floor) the tool spawns; "" is this process's own.
	Executable string
	// ChildEnv is added to the environment of every process the tool
	// spawns (tests use it to make their own binary act as tokenledger).
	ChildEnv []string
}

// options are the command's flags.
type options struct {
	server          string
	token           string
	workloads       map[string]bool
	concurrencies   []int
	count           int
	duration        time.Duration
	rounds          int
	validateConc    int
	listTokens      int
	listCount       int
	revocations     int
	coldStarts      int
	maxDuration     time.Duration
	jsonFile        string
	startLimit      time.Duration
	keepDir         bool
	sizes           []int
	svgFile         string
	preloadConc     int
	verifyOps       int
	curveCount      int
	heapProfile     string
	workloadsString string
	serveArgs       []string
}

// allWorkloads in the order they run: memory right after the load, cold
// start last.
var allWorkloads = []string{"create", "validate", "list", "revoke", "memory", "coldstart"}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("tokenledger bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: tokenledger bench [flags]

Runs the standard workloads against a tokenledger serve it starts on loopback (a temporary
data dir, sync_interval: always), or against --server with the admin token in TOKENLEDGER_TOKEN
(that server needs --mutation-rate 0 and --unauth-rate 0). Each workload is bounded by --count
and --duration and runs interleaved with its floor.

`)
		fs.PrintDefaults()
	}
	var o options
	var conc, sizes string
	fs.StringVar(&o.server, "server", "", "a running ledger's URL (default: start one)")
	fs.StringVar(&o.workloadsString, "workloads", strings.Join(allWorkloads, ","), "workloads to run, comma-separated: "+strings.Join(allWorkloads, ", "))
	fs.StringVar(&conc, "concurrency", "1,16,64", "concurrencies of the create workload")
	fs.IntVar(&o.count, "count", 1000, "most operations per workload and concurrency (ours and the floor each)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "most time per workload and concurrency (ours and the floor each)")
	fs.IntVar(&o.rounds, "rounds", 2, "rounds in which each workload alternates with its floor")
	fs.IntVar(&o.validateConc, "validate-concurrency", 16, "concurrent clients of the validate workload")
	fs.IntVar(&o.listTokens, "list-tokens", 1000, "the list workload first creates tokens until the ledger holds at least this many")
	fs.IntVar(&o.listCount, "list-count", 50, "most lists read per workload")
	fs.IntVar(&o.revocations, "revocations", 100, "most revocations of the revoke workload")
	fs.IntVar(&o.coldStarts, "cold-starts", 3, "restarts measured by the coldstart workload")
	fs.DurationVar(&o.maxDuration, "max-duration", 30*time.Minute, "the whole run stops after this")
	fs.StringVar(&o.jsonFile, "json", "", "write the results as JSON to this `file`")
	fs.StringVar(&sizes, "sizes", "", "cost curves: comma-separated ledger `sizes` in tokens (e.g. 10000,100000,1000000), instead of the standard workloads")
	fs.StringVar(&o.svgFile, "svg", "", "cost curves: write the chart to this SVG `file`")
	fs.IntVar(&o.preloadConc, "preload-concurrency", 32, "cost curves: concurrent commands while preloading")
	fs.IntVar(&o.verifyOps, "verify-ops", 2_000_000, "cost curves: most Verify calls per size (ours and the floor each)")
	fs.IntVar(&o.curveCount, "curve-count", 300, "cost curves: most creates and lists per size")
	fs.StringVar(&o.heapProfile, "heap-profile", "", "cost curves: after each preload, write a heap profile of the ledger started in-process on that data to `file`.<size>")
	fs.DurationVar(&o.startLimit, "start-timeout", 10*time.Minute, "longest wait for a spawned server's /ready")
	fs.BoolVar(&o.keepDir, "keep", false, "keep the temporary data dir (its path is printed)")
	fs.Func("serve-args", "more `flags` for every serve the tool spawns, space-separated (e.g. \"--memory-limit 64MiB\")",
		func(v string) error { o.serveArgs = strings.Fields(v); return nil })
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	o.workloads = map[string]bool{}
	for _, w := range strings.Split(o.workloadsString, ",") {
		w = strings.TrimSpace(w)
		if !contains(allWorkloads, w) {
			return o, fmt.Errorf("--workloads: %q is not one of %s", w, strings.Join(allWorkloads, ", "))
		}
		o.workloads[w] = true
	}
	var err error
	if o.concurrencies, err = parseInts("--concurrency", conc, 1, 1024); err != nil {
		return o, err
	}
	if sizes != "" {
		if o.sizes, err = parseInts("--sizes", sizes, 1, 10_000_000); err != nil {
			return o, err
		}
		for i := 1; i < len(o.sizes); i++ {
			if o.sizes[i] <= o.sizes[i-1] {
				return o, errors.New("--sizes must grow: each size is preloaded on top of the one before")
			}
		}
	}
	for _, c := range []struct {
		name     string
		v, lo, h int
	}{{"--count", o.count, 1, 10_000_000}, {"--rounds", o.rounds, 1, 100}, {"--validate-concurrency", o.validateConc, 1, 1024},
		{"--list-tokens", o.listTokens, 0, 10_000_000}, {"--list-count", o.listCount, 1, 1_000_000}, {"--revocations", o.revocations, 1, 1_000_000},
		{"--cold-starts", o.coldStarts, 1, 100}, {"--preload-concurrency", o.preloadConc, 1, 1024},
		{"--verify-ops", o.verifyOps, 1, 1 << 30}, {"--curve-count", o.curveCount, 1, 1_000_000}} {
		if c.v < c.lo || c.v > c.h {
			return o, fmt.Errorf("%s must be from %d to %d", c.name, c.lo, c.h)
		}
	}
	if o.duration <= 0 || o.maxDuration <= 0 || o.startLimit <= 0 {
		return o, errors.New("--duration, --max-duration and --start-timeout must be positive")
	}
	if o.server != "" {
		if o.sizes != nil {
			return o, errors.New("--sizes preloads a ledger of its own; it does not take --server")
		}
		o.token = getenv("TOKENLEDGER_TOKEN")
		if o.token == "" {
			return o, errors.New("--server needs the admin token in TOKENLEDGER_TOKEN")
		}
		if o.workloads["coldstart"] {
			delete(o.workloads, "coldstart") // only for a server the tool starts
		}
	}
	return o, nil
}

func parseInts(name, s string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("%s: %q is not a number from %d to %d", name, f, lo, hi)
		}
		out = append(out, n)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Run is "tokenledger bench": it parses args, runs the workloads and
// prints their table to env.Stdout.
func Run(ctx context.Context, args []string, env Env) error {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	o, err := parseOptions(args, env.Getenv, env.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if env.Executable == "" {
		if env.Executable, err = os.Executable(); err != nil {
			return fmt.Errorf("bench: find the tokenledger executable: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.maxDuration)
	defer cancel()
	r := &runner{o: o, env: env, out: env.Stdout, report: &Report{Started: time.Now().UTC(), LoadAvg: []string{loadavg()}}}
	r.hc = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 1024,
		DisableCompression: true}}
	defer r.hc.CloseIdleConnections()
	if o.sizes != nil {
		err = r.curves(ctx)
	} else {
		err = r.standard(ctx)
	}
	r.report.Finished = time.Now().UTC()
	r.report.LoadAvg = append(r.report.LoadAvg, loadavg())
	fmt.Fprintf(r.out, "load average (1, 5, 15 min): at the start %s, at the end %s\n", r.report.LoadAvg[0], r.report.LoadAvg[1])
	if o.jsonFile != "" {
		if werr := writeJSON(o.jsonFile, r.report); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// runner holds one run's state.
type runner struct {
	o      options
	env    Env
	out    io.Writer
	hc     *http.Client
	report *Report
	l      *ledger
	srv    *spawned    // nil for --server
	spec   *serverSpec // how srv was started
	tmp    string
	raw    *rawJetStream
	bare   *bareHTTP
	names  int // tokens named so far
	runID  string
}

// setUp makes the temporary dir, the floors and, unless --server, the
// server; tearDown undoes it.
func (r *runner) setUp(ctx context.Context) error {
	if err := r.setUpFloors(ctx); err != nil {
		return err
	}
	if r.o.server != "" {
		r.report.Server = r.o.server
		r.l = &ledger{base: strings.TrimSuffix(r.o.server, "/"), token: r.o.token, http: r.hc}
		return nil
	}
	r.report.Server = "spawned"
	admin, err := adminSecret()
	if err != nil {
		return err
	}
	r.spec = &serverSpec{exe: r.env.Executable, env: r.env.ChildEnv, dataDir: filepath.Join(r.tmp, "data"), admin: admin, args: r.o.serveArgs}
	if r.srv, _, err = r.spec.start(ctx, r.hc, r.o.startLimit); err != nil {
		return err
	}
	r.l = &ledger{base: r.srv.url, token: admin, http: r.hc}
	return nil
}

// setUpFloors makes the temporary dir and starts the floors.
func (r *runner) setUpFloors(ctx context.Context) error {
	var err error
	if r.tmp, err = os.MkdirTemp("", "tokenledger-bench-"); err != nil {
		return fmt.Errorf("bench: temporary dir: %w", err)
	}
	if r.o.keepDir {
		fmt.Fprintln(r.env.Stderr, "bench: data kept in", r.tmp)
	}
	r.runID = strconv.FormatInt(time.Now().UnixNano(), 36)
	if r.bare, err = startBareHTTP(); err != nil {
		return err
	}
	r.raw, err = startRawJetStream(ctx, r.tmp)
	return err
}

func (r *runner) tearDown() error {
	var err error
	if r.srv != nil {
		err = r.srv.stop()
	}
	if r.raw != nil {
		r.raw.close()
	}
	if r.bare != nil {
		r.bare.close()
	}
	if r.tmp != "" && !r.o.keepDir {
		_ = os.RemoveAll(r.tmp)
	}
	return err
}

// name is a fresh token name.
func (r *runner) name() string {
	r.names++
	return "bench-" + r.runID + "-" + strconv.Itoa(r.names)
}

// tokens is the ledger's token count (revoked and expired included).
func (r *runner) tokens(ctx context.Context) int {
	m, err := r.l.metrics(ctx, "tokenledger_tokens")
	if err != nil {
		return 0
	}
	return int(m["tokenledger_tokens"])
}

func (r *runner) standard(ctx context.Context) (err error) {
	defer func() {
		if terr := r.tearDown(); err == nil {
			err = terr
		}
	}()
	if err := r.setUp(ctx); err != nil {
		return err
	}
	var empty Memory
	if r.srv != nil {
		if empty, err = r.memory(ctx, 0); err != nil {
			return err
		}
	}
	printHeader(r.out)
	o := r.o
	if o.workloads["create"] {
		for _, c := range o.concurrencies {
			if err := r.create(ctx, c, o.count, o.duration); err != nil {
				return err
			}
		}
	}
	if o.workloads["validate"] {
		if err := r.validate(ctx); err != nil {
			return err
		}
	}
	if o.workloads["list"] {
		if err := r.fill(ctx, o.listTokens); err != nil {
			return err
		}
		if err := r.list(ctx, o.listCount, o.duration); err != nil {
			return err
		}
	}
	if o.workloads["revoke"] {
		if err := r.revokeToRejection(ctx); err != nil {
			return err
		}
	}
	if o.workloads["memory"] {
		m, err := r.memory(ctx, r.tokens(ctx))
		if err != nil {
			return err
		}
		m.EmptyRSS, m.EmptyHeap = empty.RSSBytes, empty.HeapBytes
		if m.Tokens > 0 && empty.HeapBytes > 0 {
			m.HeapPerToken = (m.HeapBytes - empty.HeapBytes) / int64(m.Tokens)
		}
		r.report.Memory = append(r.report.Memory, m)
		printMemoryHeader(r.out)
		printMemory(r.out, m)
	}
	// Last: a restarted server no longer holds what the load left.
	if o.workloads["coldstart"] && r.srv != nil {
		if o.workloads["memory"] {
			printHeader(r.out) // under the memory table
		}
		if err := r.coldStart(ctx, o.coldStarts); err != nil {
			return err
		}
	}
	return nil
}

// create measures POST /api/admin/api-tokens from conc clients beside raw
// JetStream publishes of the same size from conc writers.
func (r *runner) create(ctx context.Context, conc, count int, limit time.Duration) error {
	tokens := r.tokens(ctx)
	names := make([]string, count)
	for i := range names {
		names[i] = r.name()
	}
	next := 0
	ours, floor, err := interleave(ctx, r.o.rounds, count, limit,
		func(ctx context.Context, n int, limit time.Duration) (sample, error) {
			base := next
			next += n
			return runLoad(ctx, conc, min(n, count-base), limit, func(ctx context.Context, i int) error {
				_, err := r.l.create(ctx, names[base+i])
				return err
			})
		},
		func(ctx context.Context, n int, limit time.Duration) (sample, error) {
			return runLoad(ctx, conc, n, limit, func(ctx context.Context, _ int) error { return r.raw.publish(ctx) })
		})
	if err != nil {
		return fmt.Errorf("create at concurrency %d: %w", conc, err)
	}
	printResult(r.out, r.report.addResult("create", conc, tokens, ours, "raw JetStream publish", &floor))
	return nil
}

// fill creates tokens (at concurrency 64, not measured) until the ledger
// holds at least n.
func (r *runner) fill(ctx context.Context, n int) error {
	missing := n - r.tokens(ctx)
	if missing <= 0 {
		return nil
	}
	names := make([]string, missing)
	for i := range names {
		names[i] = r.name()
	}
	_, err := runLoad(ctx, 64, missing, r.o.maxDuration, func(ctx context.Context, i int) error {
		_, err := r.l.create(ctx, names[i])
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: fill the ledger to %d tokens: %w", n, err)
	}
	return nil
}

// post sends body to url and reads the whole answer (the floor's client
// side, the same as the ledger's).
func (r *runner) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

// validate measures /edge/validate of one valid token from
// --validate-concurrency clients beside a bare handler answering the same
// bytes.
func (r *runner) validate(ctx context.Context) error {
	tok, err := r.l.create(ctx, r.name())
	if err != nil {
		return err
	}
	body := validateBody(tok.secret)
	_, answer, err := r.l.do(ctx, http.MethodPost, "/edge/validate", body, http.StatusOK)
	if err != nil {
		return err
	}
	r.bare.answer(answer)
	tokens := r.tokens(ctx)
	conc := r.o.validateConc
	ours, floor, err := interleave(ctx, r.o.rounds, r.o.count, r.o.duration,
		func(ctx context.Context, n int, limit time.Duration) (sample, error) {
			return runLoad(ctx, conc, n, limit, func(ctx context.Context, _ int) error {
				ok, err := r.l.validate(ctx, body)
				if err == nil && !ok {
					err = errors.New("bench: /edge/validate rejected a valid token")
				}
				return err
			})
		},
		func(ctx context.Context, n int, limit time.Duration) (sample, error) {
			return runLoad(ctx, conc, n, limit, func(ctx context.Context, _ int) error {
				return r.post(ctx, r.bare.url+"/edge/validate", body)
			})
		})
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	printResult(r.out, r.report.addResult("validate", conc, tokens, ours, "bare net/http, same JSON", &floor))
	return nil
}

// list measures GET /api/admin/api-tokens (every token) one at a time
// beside a bare handler answering the same bytes.
func (r *runner) list(ctx context.Context, count int, limit time.Duration) error {
	n, answer, err := r.l.list(ctx)
	if err != nil {
		return err
	}
	r.bare.answer(answer)
	ours, floor, err := interleave(ctx, r.o.rounds, count, limit,
		func(ctx context.Context, n int, limit time.Duration) (sample, error) {
			return runLoad(ctx, 1, n, limit, func(ctx context.Context, _ int) error {
				_, _, err := r.l.do(ctx, http.MethodGet, "/api/admin/api-tokens", nil, http.StatusOK)
				return err
			})
		},
		func(ctx context.Context, n int, limit time.Duration) (sample, error) {
			return runLoad(ctx, 1, n, limit, func(ctx context.Context, _ int) error {
				return r.post(ctx, r.bare.url+"/api/admin/api-tokens", nil)
			})
		})
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	printResult(r.out, r.report.addResult("list", 1, n, ours, "bare net/http, same bytes", &floor))
	return nil
}

// revokeToRejection measures, one token at a time, from the DELETE being
// sent to /edge/validate rejecting the token, beside one raw JetStream
// publish (the one fsynced append a revocation needs).
func (r *runner) revokeToRejection(ctx context.Context) error {
	tokens := r.tokens(ctx)
	ours, floor, err := interleave(ctx, r.o.rounds, r.o.revocations, r.o.duration,
		func(ctx context.Context, n int, limit time.Duration) (sample, error) {
			ctx, cancel := context.WithTimeout(ctx, limit)
			defer cancel()
			var s sample // its rate: one revocation after the other, creations left out
			for range n {
				if ctx.Err() != nil {
					break
				}
				tok, err := r.l.create(ctx, r.name())
				if err != nil {
					return s, ignoreDeadline(ctx, err)
				}
				body := validateBody(tok.secret)
				if ok, err := r.l.validate(ctx, body); err != nil || !ok {
					return s, ignoreDeadline(ctx, errors.Join(errors.New("bench: a new token was not valid"), err))
				}
				t := time.Now()
				if err := r.l.revoke(ctx, tok.id); err != nil {
					return s, ignoreDeadline(ctx, err)
				}
				for {
					ok, err := r.l.validate(ctx, body)
					if err != nil {
						return s, ignoreDeadline(ctx, err)
					}
					if !ok {
						break
					}
				}
				d := time.Since(t)
				s.lat, s.elapsed = append(s.lat, d), s.elapsed+d
			}
			return s, nil
		},
		func(ctx context.Context, n int, limit time.Duration) (sample, error) {
			return runLoad(ctx, 1, n, limit, func(ctx context.Context, _ int) error { return r.raw.publish(ctx) })
		})
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	printResult(r.out, r.report.addResult("revoke_to_rejection", 1, tokens, ours, "raw JetStream publish", &floor))
	return nil
}

// ignoreDeadline drops err when ctx ended (the workload's time bound).
func ignoreDeadline(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// coldStart stops the server and starts it again n times: from the spawn
// to /health 200 and to /ready 200 (projections caught up), beside a spawn
// of the same executable that exits at once ("version").
func (r *runner) coldStart(ctx context.Context, n int) error {
	tokens := r.tokens(ctx)
	var health, ready, floor sample
	for range n {
		if err := r.srv.stop(); err != nil {
			return err
		}
		s, t, err := r.spec.start(ctx, r.hc, r.o.startLimit)
		if err != nil {
			return fmt.Errorf("cold start: %w", err)
		}
		r.srv, r.l.base = s, s.url
		health.lat, ready.lat = append(health.lat, t.health), append(ready.lat, t.ready)
		health.elapsed, ready.elapsed = health.elapsed+t.health, ready.elapsed+t.ready
		d, err := r.spawnFloor(ctx)
		if err != nil {
			return err
		}
		floor.lat, floor.elapsed = append(floor.lat, d), floor.elapsed+d
	}
	printResult(r.out, r.report.addResult("cold_start_health", 1, tokens, health, "spawn of `version`", &floor))
	printResult(r.out, r.report.addResult("cold_start_ready", 1, tokens, ready, "spawn of `version`", &floor))
	return nil
}

// memory reads the server's RSS (a server the tool started) and Go heap.
func (r *runner) memory(ctx context.Context, tokens int) (Memory, error) {
	m := Memory{Tokens: tokens}
	var err error
	if r.srv != nil {
		if m.RSSBytes, err = r.srv.rss(); err != nil {
			return m, err
		}
		if m.ServerCPUSeconds, err = r.srv.cpuSeconds(); err != nil {
			return m, err
		}
	}
	if m.HeapBytes, m.HeapMetric, err = r.l.heap(ctx); err != nil {
		return m, err
	}
	if m.MemoryLimitBytes, err = r.l.memoryLimit(ctx); err != nil {
		return m, err
	}
	return m, nil
}

// execCommand is exe with args and the tool's environment plus extra.
func execCommand(ctx context.Context, exe string, extra []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), extra...)
	return cmd
}
