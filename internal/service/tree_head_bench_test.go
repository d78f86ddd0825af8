package service

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// BenchmarkAppendTreeHead measures an acknowledged append as a command's
// answer waits for it: the append of a token.created event (embedded
// NATS, sync_interval: always), the projections applying it and, in the
// service that keeps it, the signed tree head covering it written beside
// the data dir. The floor is the same service without the tree head, in
// the same process; both checkpoint every 1,000 events. Appends alternate
// between them in blocks of 50, and each block's CPU time (the process's:
// the embedded nats-server's included) goes to the service that ran it.
// It reports the time and CPU per append of each and their ratios, of
// the totals and (ratio-blocks-p50, the figure least moved by other load
// on the machine) the median of the blocks' time ratios:
//
//	go test -run '^$' -bench '^BenchmarkAppendTreeHead$' -benchtime 3000x -count 3 ./internal/service/
func BenchmarkAppendTreeHead(b *testing.B) {
	start := func(noHead bool) *Main {
		env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
		m := NewMain(Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(b.TempDir(), "data"), NATSListen: "off", ExpiryEvery: time.Hour,
			Replicas: 1, Getenv: func(k string) string { return env[k] }, LogOutput: io.Discard,
			CheckpointEvery: DefaultCheckpointEvery, CheckpointInterval: time.Hour, noTreeHead: noHead})
		if err := m.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = m.Close() })
		return m
	}
	without, with := start(true), start(false)
	if without.checkpoints.head != nil || with.checkpoints.head == nil {
		b.Fatal("want one service with the tree head and one without")
	}
	at := time.Now()
	ctx := context.Background()
	appendOne := func(m *Main, i int) {
		id := fmt.Sprintf("0193a5b2-0000-7000-8000-%012d", i)
		env, err := events.New(fmt.Sprintf("01JBENCH%018d", i), id, events.TokenCreated{TokenType: events.TokenBackend,
			Name: "bench-" + id[24:], Environment: "development", Projects: []string{"default"}, Path: events.PathAdminAPI,
			Verifier: strings.Repeat("ab", 32), Hint: "[]:development.…0000"}, at)
		if err != nil {
			b.Fatal(err)
		}
		env.Actor = events.System
		if err := env.Seal(); err != nil {
			b.Fatal(err)
		}
		st, err := m.Store.Append(ctx, commands.Append{Event: env, MsgID: env.ID})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Runner.WaitFor(ctx, st.Seq); err != nil {
			b.Fatal(err)
		}
		if err := m.waitTreeHead(ctx, st.Seq); err != nil {
			b.Fatal(err)
		}
	}
	const block = 50
	var dWithout, dWith, cWithout, cWith time.Duration
	var blockRatios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i += block {
		n := min(block, b.N-i)
		var blockD [2]time.Duration
		for k, m := range []*Main{without, with} {
			t0, c0 := time.Now(), cpuTime()
			for j := range n {
				appendOne(m, i+j)
			}
			d, c := time.Since(t0), cpuTime()-c0
			blockD[k] = d
			if k == 0 {
				dWithout, cWithout = dWithout+d, cWithout+c
			} else {
				dWith, cWith = dWith+d, cWith+c
			}
		}
		blockRatios = append(blockRatios, float64(blockD[1])/float64(blockD[0]))
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(per(dWithout), "ns/append-without")
	b.ReportMetric(per(dWith), "ns/append-with")
	b.ReportMetric(float64(dWith)/float64(dWithout), "ratio")
	slices.Sort(blockRatios)
	b.ReportMetric(blockRatios[len(blockRatios)/2], "ratio-blocks-p50")
	b.ReportMetric(per(cWithout)/1e3, "cpu-µs/append-without")
	b.ReportMetric(per(cWith)/1e3, "cpu-µs/append-with")
	b.ReportMetric(float64(cWith)/float64(cWithout), "cpu-ratio")
}
