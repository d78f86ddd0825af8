package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// BenchmarkValidateWrk16 measures issue 16's validation goal with wrk
// itself (`wrk -t1 -c16 --latency`, a separate process): /edge/validate of
// one valid token on the real service (serve's defaults: durability,
// expiry period, connection cap, limit of unknown tokens) and a bare net/http handler answering the same JSON, in
// wrkRounds alternating runs of wrkSeconds each, reporting each side's
// median req/s, p99 and process CPU per request (wrk runs apart, so it is
// the servers' own), the ratio of the median rates and the ratio of the
// median CPU per request (bare over ours: the same scale). It is skipped when
// wrk is not installed. One command, about 50 s:
//
//	go test -run '^$' -bench '^BenchmarkValidateWrk16$' -benchtime 1x ./internal/service/
func BenchmarkValidateWrk16(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk is not installed")
	}
	// Every goroutine of the service carries the label side=ours, the
	// bare server's side=bare (startBare): a -cpuprofile of the benchmark
	// shows each server's whole cost (go tool pprof -tagfocus side=ours);
	// what neither carries is the runtime's own (scheduler, GC workers).
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("side", "ours")))
	s := servicetest.StartWith(b, "", nil, productionEdge)
	pprof.SetGoroutineLabels(context.Background())
	secret, _ := s.CreateToken("backend", "development", "default")
	answer, _ := json.Marshal(map[string]any{"tokens": []map[string]any{{"token": secret, "type": "backend",
		"projects": []string{"default"}, "environment": "development"}}})
	answer = append(answer, '\n')
	bareURL := startBare(b, answer)

	// wrk's script: the request of docs/bench/edge_validate.lua, checked
	// against the answer's length so that a refused request cannot count.
	script := b.TempDir() + "/validate.lua"
	lua := fmt.Sprintf(`wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"tokens":["%s"]}'
bad = 0
response = function(status, headers, body)
  if status ~= 200 or #body ~= %d then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("bad %%d\n", bad))
end
`, secret, len(answer))
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		b.Fatal(err)
	}
	// run runs wrk against url and reports its req/s and p99, and the CPU
	// this process (both servers, the ledger's background work, never wrk)
	// spent per request meanwhile.
	run := func(url string) (rps, p99ms, cpuUS float64) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(wrkSeconds+30)*time.Second)
		defer cancel()
		cpu0 := processCPU()
		out, err := exec.CommandContext(ctx, wrk, "-t1", "-c16", "-d"+strconv.Itoa(wrkSeconds)+"s", "--latency", "-s", script, url).CombinedOutput()
		cpu := processCPU() - cpu0
		if err != nil {
			b.Fatalf("wrk: %v\n%s", err, out)
		}
		rps, p99ms = parseWrk(b, out)
		return rps, p99ms, float64(cpu.Microseconds()) / (rps * wrkSeconds)
	}
	var ours, bare, oursP99, bareP99, oursCPU, bareCPU []float64
	b.ResetTimer()
	for range wrkRounds {
		r, p, c := run(s.URL() + "/edge/validate")
		ours, oursP99, oursCPU = append(ours, r), append(oursP99, p), append(oursCPU, c)
		r, p, c = run(bareURL)
		bare, bareP99, bareCPU = append(bare, r), append(bareP99, p), append(bareCPU, c)
	}
	b.StopTimer()
	b.Logf("ours req/s %.0f, p99 %.2f ms, CPU %.1f us/req; bare %.0f, p99 %.2f ms, CPU %.1f us/req",
		ours, oursP99, oursCPU, bare, bareP99, bareCPU)
	b.ReportMetric(median(ours), "ours_req/s")
	b.ReportMetric(median(oursP99), "ours_p99_ms")
	b.ReportMetric(median(oursCPU), "ours_cpu_us/req")
	b.ReportMetric(median(bare), "bare_req/s")
	b.ReportMetric(median(bareP99), "bare_p99_ms")
	b.ReportMetric(median(bareCPU), "bare_cpu_us/req")
	b.ReportMetric(median(ours)/median(bare), "ratio")
	b.ReportMetric(median(bareCPU)/median(oursCPU), "cpu_ratio")
}

// productionEdge is production with serve's defaults that /edge/validate
// meets on every request: the connection cap (--max-connections) and the
// per-address limit of unknown tokens (--unauth-rate, --unauth-burst).
func productionEdge(c *service.Config) {
	production(c)
	c.MaxConnections, c.UnauthRate, c.UnauthBurst = 1024, 5, 50
}

// wrkRounds and wrkSeconds: each side runs wrkRounds times wrkSeconds.
const (
	wrkRounds  = 7
	wrkSeconds = 3
)

// startBare serves answer to every request on a bare net/http server on
// loopback and returns its /edge/validate URL.
func startBare(b *testing.B, answer []byte) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})}
	// The bare server's goroutines carry the label side=bare, so that a
	// -cpuprofile of the benchmark shows the two servers apart
	// (go tool pprof -tagfocus side=bare, or -tagignore side=bare).
	go pprof.Do(context.Background(), pprof.Labels("side", "bare"), func(context.Context) { _ = srv.Serve(ln) })
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + "/edge/validate"
}

var (
	wrkRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkP99 = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	wrkBad = regexp.MustCompile(`(?m)^bad (\d+)$`)
)

// parseWrk reads req/s and p99 (ms) from wrk's output; it fails the
// benchmark if any answer was not the expected 200.
func parseWrk(b *testing.B, out []byte) (rps, p99ms float64) {
	b.Helper()
	r, p, bad := wrkRPS.FindSubmatch(out), wrkP99.FindSubmatch(out), wrkBad.FindSubmatch(out)
	if r == nil || p == nil || bad == nil {
		b.Fatalf("wrk output not understood:\n%s", out)
	}
	if !bytes.Equal(bad[1], []byte("0")) {
		b.Fatalf("wrk: %s answers were not the expected 200:\n%s", bad[1], out)
	}
	rps, _ = strconv.ParseFloat(string(r[1]), 64)
	p99ms, _ = strconv.ParseFloat(string(p[1]), 64)
	switch string(p[2]) {
	case "us":
		p99ms /= 1000
	case "s":
		p99ms *= 1000
	}
	return rps, p99ms
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
