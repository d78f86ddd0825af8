package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/bench"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// childEnv makes this test binary act as the tokenledger executable when
// the tool spawns it ("serve", "version"): the real service, not a stand-in.
const childEnv = "TOKENLEDGER_BENCH_TEST_CHILD=1"

func TestMain(m *testing.M) {
	if os.Getenv("TOKENLEDGER_BENCH_TEST_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], cli.Env{Serve: func(ctx context.Context, args []string) error {
			return service.Serve(ctx, args, os.Getenv)
		}})
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// runBench runs the tool as the command line does, spawning this test
// binary as tokenledger.
func runBench(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	err = bench.Run(ctx, args, bench.Env{Stdout: &stdout, Stderr: &stderr, Getenv: getenv, Executable: exe, ChildEnv: []string{childEnv}})
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return stdout.String(), err
}

func readReport(t *testing.T, path string) bench.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r bench.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("the JSON does not decode: %v\n%s", err, b)
	}
	return r
}

// rowKey names a result row: workload and concurrency.
type rowKey struct {
	workload    string
	concurrency int
}

// checkRows fails unless the report has exactly the rows want, in order,
// each with the operations asked for (ours, and a floor with at least one)
// and percentiles in order.
func checkRows(t *testing.T, r bench.Report, want map[rowKey]int, order []rowKey) {
	t.Helper()
	var got []rowKey
	for _, res := range r.Results {
		k := rowKey{res.Workload, res.Concurrency}
		got = append(got, k)
		if n, ok := want[k]; ok && res.Ours.N != n {
			t.Errorf("%v: %d operations measured, want %d", k, res.Ours.N, n)
		}
		if res.Floor == nil || res.Floor.N == 0 || res.Floor.Name == "" {
			t.Errorf("%v: no floor measured beside it: %+v", k, res.Floor)
		}
		if res.Ours.P50ms <= 0 || res.Ours.P99ms < res.Ours.P50ms || res.Ours.Rate <= 0 {
			t.Errorf("%v: p50 %v, p99 %v, rate %v", k, res.Ours.P50ms, res.Ours.P99ms, res.Ours.Rate)
		}
	}
	if len(got) != len(order) {
		t.Fatalf("rows %v, want %v", got, order)
	}
	for i := range got {
		if got[i] != order[i] {
			t.Fatalf("rows %v, want %v", got, order)
		}
	}
}

// The tool starts a real ledger of its own, runs every workload with the
// counts asked for, each beside its floor, prints the table and writes
// the same figures as JSON, the server's memory, memory limit (from
// --serve-args) and CPU time included; and the server it started is gone
// afterwards (its data dir removed).
func TestBenchRunsEveryWorkloadAgainstAServerItStarts(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	stdout, err := runBench(t, nil, "--concurrency", "1,3", "--count", "4", "--rounds", "2", "--duration", "60s",
		"--validate-concurrency", "2", "--list-tokens", "12", "--list-count", "2", "--revocations", "2", "--cold-starts", "1",
		"--serve-args", "--memory-limit 96MiB", "--json", out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout)
	}
	r := readReport(t, out)
	if r.Server != "spawned" || len(r.LoadAvg) != 2 || r.Finished.Before(r.Started) {
		t.Errorf("server %q, load averages %v, %s to %s", r.Server, r.LoadAvg, r.Started, r.Finished)
	}
	order := []rowKey{{"create", 1}, {"create", 3}, {"validate", 2}, {"list", 1}, {"revoke_to_rejection", 1},
		{"cold_start_health", 1}, {"cold_start_ready", 1}}
	checkRows(t, r, map[rowKey]int{{"create", 1}: 4, {"create", 3}: 4, {"validate", 2}: 4, {"list", 1}: 2,
		{"revoke_to_rejection", 1}: 2, {"cold_start_health", 1}: 1, {"cold_start_ready", 1}: 1}, order)
	for _, res := range r.Results {
		if res.Workload == "list" && res.Tokens < 12 {
			t.Errorf("the list held %d tokens, want at least the 12 asked", res.Tokens)
		}
	}
	if len(r.Memory) != 1 {
		t.Fatalf("memory rows %+v, want one", r.Memory)
	}
	m := r.Memory[0]
	if m.RSSBytes <= 0 || m.EmptyRSS <= 0 || m.HeapBytes <= 0 || m.HeapMetric != "go_gc_heap_live_bytes" || m.Tokens < 12 {
		t.Errorf("memory %+v", m)
	}
	if m.MemoryLimitBytes != 96<<20 || m.ServerCPUSeconds <= 0 {
		t.Errorf("memory limit %d (want --serve-args' 96 MiB), server CPU %v s", m.MemoryLimitBytes, m.ServerCPUSeconds)
	}
	for _, w := range []string{"workload", "create", "validate", "list", "revoke_to_rejection", "cold_start_ready", "memory", "load average"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("the table has no %q:\n%s", w, stdout)
		}
	}
}

// Pointed at a running ledger (--server, the admin token from
// TOKENLEDGER_TOKEN), the tool runs the workloads that need no process of
// its own: no cold start, and memory without RSS.
func TestBenchMeasuresARunningServer(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NoSync, c.MutationRate, c.UnauthRate = false, 0, 0
	})
	out := filepath.Join(t.TempDir(), "bench.json")
	getenv := func(k string) string {
		if k == "TOKENLEDGER_TOKEN" {
			return servicetest.AdminSecret
		}
		return ""
	}
	stdout, err := runBench(t, getenv, "--server", s.URL(), "--concurrency", "2", "--count", "3", "--rounds", "1",
		"--validate-concurrency", "1", "--list-tokens", "5", "--list-count", "1", "--revocations", "1", "--json", out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout)
	}
	r := readReport(t, out)
	if r.Server != s.URL() {
		t.Errorf("server %q, want %q", r.Server, s.URL())
	}
	checkRows(t, r, map[rowKey]int{{"create", 2}: 3, {"validate", 1}: 3, {"list", 1}: 1, {"revoke_to_rejection", 1}: 1},
		[]rowKey{{"create", 2}, {"validate", 1}, {"list", 1}, {"revoke_to_rejection", 1}})
	if len(r.Memory) != 1 || r.Memory[0].RSSBytes != 0 || r.Memory[0].HeapBytes <= 0 {
		t.Errorf("memory %+v: want the heap only", r.Memory)
	}
	if got := s.Tokens.Len(); got < 5 {
		t.Errorf("the ledger holds %d tokens, want at least the 5 of --list-tokens", got)
	}
}

// Bad arguments are refused before anything is started or measured.
func TestBenchRefusesBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown workload", []string{"--workloads", "create,delete"}, "--workloads"},
		{"concurrency zero", []string{"--concurrency", "1,0"}, "--concurrency"},
		{"no count", []string{"--count", "0"}, "--count"},
		{"no time", []string{"--duration", "0s"}, "--duration"},
		{"server without a token", []string{"--server", "http://127.0.0.1:1"}, "TOKENLEDGER_TOKEN"},
		{"stray argument", []string{"now"}, "unexpected"},
		{"sizes that do not grow", []string{"--sizes", "100,10"}, "--sizes"},
		{"sizes against a running server", []string{"--sizes", "10", "--server", "http://127.0.0.1:1"}, "--sizes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bench.json")
			stdout, err := runBench(t, nil, append(tt.args, "--json", out)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error naming %s", err, tt.want)
			}
			if stdout != "" {
				t.Errorf("printed %q before refusing", stdout)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("wrote %s before refusing", out)
			}
		})
	}
}

// With --sizes the tool preloads its ledger to each size in turn and
// measures every figure of the cost curves there, each beside its floor,
// and writes them as JSON and as a well-formed SVG chart.
func TestBenchCostCurvesAtEachSize(t *testing.T) {
	dir := t.TempDir()
	out, svg := filepath.Join(dir, "curves.json"), filepath.Join(dir, "curves.svg")
	stdout, err := runBench(t, nil, "--sizes", "15,40", "--curve-count", "3", "--cold-starts", "1", "--rounds", "1",
		"--verify-ops", "2000", "--preload-concurrency", "4", "--json", out, "--svg", svg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout)
	}
	r := readReport(t, out)
	if len(r.Curves) != 2 || r.Curves[0].Tokens != 15 || r.Curves[1].Tokens != 40 {
		t.Fatalf("curves %+v, want sizes 15 and 40", r.Curves)
	}
	for i, c := range r.Curves {
		figures := map[string]float64{"create": c.CreateP50ms, "create floor": c.CreateFloorP50ms, "verify": c.VerifyNs,
			"verify floor": c.VerifyFloorNs, "list": c.ListP50ms, "list floor": c.ListFloorP50ms, "list bytes": float64(c.ListBytes),
			"rss": float64(c.RSSBytes), "empty rss": float64(c.EmptyRSSBytes), "heap": float64(c.HeapBytes),
			"cold start /health": c.ColdHealthMs, "cold start /ready": c.ColdReadyMs, "cold start floor": c.ColdFloorMs}
		for name, v := range figures {
			if v <= 0 {
				t.Errorf("size %d: %s = %v", c.Tokens, name, v)
			}
		}
		if m := r.Memory[i]; m.Tokens < c.Tokens {
			t.Errorf("size %d: the ledger held %d tokens", c.Tokens, m.Tokens)
		}
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	dec, lines := xml.NewDecoder(bytes.NewReader(b)), 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines < 6 {
		t.Errorf("the SVG has %d lines, want one per figure at least", lines)
	}
	if !strings.Contains(stdout, "| 40 |") {
		t.Errorf("no Markdown row for 40 tokens:\n%s", stdout)
	}
}
