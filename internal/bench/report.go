package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Figure is one measured series: n operations, their rate and
// percentiles.
type Figure struct {
	Name  string  `json:"name"`
	N     int     `json:"n"`
	Rate  float64 `json:"rate_per_s"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
}

func figure(name string, s sample) Figure {
	return Figure{Name: name, N: len(s.lat), Rate: round(s.rate(), 3),
		P50ms: ms(percentile(s.lat, 50)), P99ms: ms(percentile(s.lat, 99))}
}

// Result is one row of the report: a workload at a concurrency and a
// ledger size, and its floor measured in the same run, interleaved.
type Result struct {
	Workload    string  `json:"workload"`
	Concurrency int     `json:"concurrency"`
	Tokens      int     `json:"tokens"` // live tokens in the ledger when measured
	Ours        Figure  `json:"ours"`
	Floor       *Figure `json:"floor,omitempty"`
	// RateRatio is Ours.Rate / Floor.Rate.
	RateRatio float64 `json:"rate_ratio,omitempty"`
	// P50Ratio is Ours.P50ms / Floor.P50ms.
	P50Ratio float64 `json:"p50_ratio,omitempty"`
}

// Memory is the spawned server's memory at a ledger size, beside the same
// server when it had just started on an empty data dir.
type Memory struct {
	Tokens int `json:"tokens"`
	// RSSBytes is VmRSS of the server process (ledger and embedded NATS);
	// 0 for a server the tool did not start.
	RSSBytes int64 `json:"rss_bytes"`
	// HeapBytes is the Go heap from /metrics: live bytes at the last GC
	// (go_gc_heap_live_bytes) when the server exports it, else
	// go_memstats_heap_alloc_bytes.
	HeapBytes    int64  `json:"heap_bytes"`
	HeapMetric   string `json:"heap_metric"`
	EmptyRSS     int64  `json:"empty_rss_bytes,omitempty"`
	EmptyHeap    int64  `json:"empty_heap_bytes,omitempty"`
	HeapPerToken int64  `json:"heap_per_token_bytes,omitempty"` // (HeapBytes-EmptyHeap)/Tokens
	// ServerCPUSeconds is the CPU time (user and system) the spawned
	// server used since it started: the cost of the load run so far.
	ServerCPUSeconds float64 `json:"server_cpu_seconds,omitempty"`
	// MemoryLimitBytes is the server's Go soft memory limit
	// (go_gc_gomemlimit_bytes; --memory-limit), 0 for none.
	MemoryLimitBytes int64 `json:"memory_limit_bytes,omitempty"`
}

// Report is what --json writes.
type Report struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// LoadAvg is /proc/loadavg at the start and at the end.
	LoadAvg []string `json:"loadavg"`
	Server  string   `json:"server"` // "spawned" or the URL given
	Results []Result `json:"results"`
	Memory  []Memory `json:"memory,omitempty"`
	Curves  []Curve  `json:"curves,omitempty"`
}

func (r *Report) addResult(workload string, conc, tokens int, ours sample, floorName string, floor *sample) Result {
	res := Result{Workload: workload, Concurrency: conc, Tokens: tokens, Ours: figure("ours", ours)}
	if floor != nil {
		f := figure(floorName, *floor)
		res.Floor = &f
		if f.Rate > 0 {
			res.RateRatio = round(res.Ours.Rate/f.Rate, 2)
		}
		if f.P50ms > 0 {
			res.P50Ratio = round(res.Ours.P50ms/f.P50ms, 2)
		}
	}
	r.Results = append(r.Results, res)
	return res
}

func ms(d time.Duration) float64 { return round(float64(d.Nanoseconds())/1e6, 3) }

func round(v float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

const resultRow = "%-20s %5v %9v %7v %10v %10v %10v   %-26s %10v %10v %10v %6v\n"

func printHeader(w io.Writer) {
	fmt.Fprintf(w, resultRow, "workload", "conc", "tokens", "n", "rate/s", "p50 ms", "p99 ms",
		"floor", "rate/s", "p50 ms", "p99 ms", "ratio")
}

func printResult(w io.Writer, r Result) {
	fname, frate, fp50, fp99, ratio := "-", "-", "-", "-", "-"
	if r.Floor != nil {
		fname, frate, fp50, fp99 = r.Floor.Name, num(r.Floor.Rate), num(r.Floor.P50ms), num(r.Floor.P99ms)
		ratio = fmt.Sprintf("%.2f", r.RateRatio)
	}
	fmt.Fprintf(w, resultRow, r.Workload, r.Concurrency, r.Tokens, r.Ours.N, num(r.Ours.Rate), num(r.Ours.P50ms), num(r.Ours.P99ms),
		fname, frate, fp50, fp99, ratio)
}

const memoryRow = "%-20s %9v %12v %12v %14v %16v %16v %14v\n"

func printMemoryHeader(w io.Writer) {
	fmt.Fprintf(w, memoryRow, "memory", "tokens", "RSS MiB", "heap MiB", "heap B/token", "empty RSS MiB", "empty heap MiB", "server CPU s")
}

func printMemory(w io.Writer, m Memory) {
	mib := func(b int64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(b)/(1<<20))
	}
	per := "-"
	if m.HeapPerToken > 0 {
		per = fmt.Sprint(m.HeapPerToken)
	}
	cpu := "-"
	if m.ServerCPUSeconds > 0 {
		cpu = fmt.Sprintf("%.2f", m.ServerCPUSeconds)
	}
	fmt.Fprintf(w, memoryRow, "", m.Tokens, mib(m.RSSBytes), mib(m.HeapBytes), per, mib(m.EmptyRSS), mib(m.EmptyHeap), cpu)
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func writeJSON(path string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write results: %w", err)
	}
	return nil
}
