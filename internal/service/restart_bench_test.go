package service

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkServiceRestart measures the real service's start on a data dir
// of n events (TOKENLEDGER_BENCH_EVENTS, default 100,000: token histories
// of 5 events, signed by the ledger, checkpointed, cleanly shut down),
// from NewMain to Run's return (embedded NATS started, stream opened,
// every projection caught up, serving), with and without the projection
// snapshot, beside the floor: a raw ordered consumer reading the same
// stream. The three alternate in every iteration (same load):
//
//	TOKENLEDGER_BENCH_EVENTS=1000000 go test -run '^$' -bench '^BenchmarkServiceRestart$' -benchtime 2x -timeout 60m ./internal/service/
func BenchmarkServiceRestart(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("TOKENLEDGER_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	dir := filepath.Join(b.TempDir(), "data")
	var cpuSpent time.Duration // by the last start
	start := func(snapshots bool) (*Main, time.Duration) {
		env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
		cfg := Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
			Getenv: func(k string) string { return env[k] }, LogOutput: io.Discard, CheckpointInterval: time.Hour,
			SnapshotEvery: 1 << 30, SnapshotInterval: time.Hour}
		if !snapshots {
			cfg.SnapshotFile = SnapshotOff
		}
		m := NewMain(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		t0, c0 := time.Now(), cpuTime()
		if err := m.Run(ctx); err != nil {
			_ = m.Close()
			b.Fatal(err)
		}
		cpuSpent = cpuTime() - c0
		return m, time.Since(t0)
	}
	m, _ := start(false)
	ctx := context.Background()
	t0 := time.Now()
	fillHistoriesConcurrently(b, ctx, m.Store, n/5, 5, 4)
	b.Logf("filled %d events in %s", n/5*5, time.Since(t0).Round(time.Second))
	_ = m.Close()
	m, _ = start(true) // a full replay, then the snapshot at shutdown
	last, _ := m.Store.LastSequence(ctx)
	_ = m.Close()
	if _, err := os.Stat(dir + ".snapshot"); err != nil {
		b.Fatal(err)
	}

	var floor, full, snap, floorCPU, fullCPU, snapCPU time.Duration
	for b.Loop() {
		m, took := start(false)
		full, fullCPU = full+took, fullCPU+cpuSpent
		js, err := jetstream.New(m.nc)
		if err != nil {
			b.Fatal(err)
		}
		t0, c0 := time.Now(), cpuTime()
		rawCount(b, js, int(last))
		floor, floorCPU = floor+time.Since(t0), floorCPU+cpuTime()-c0
		_ = m.Close()
		stop := profileStart(b, "from_snapshot")
		m, took = start(true)
		stop()
		snap, snapCPU = snap+took, snapCPU+cpuSpent
		if m.Runner.Replay().Events > 2 {
			b.Fatalf("the start from the snapshot replayed %d events", m.Runner.Replay().Events)
		}
		_ = m.Close()
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(float64(last), "events")
	b.ReportMetric(per(floor), "s-floor-raw-consumer")
	b.ReportMetric(per(full), "s-start-full-replay")
	b.ReportMetric(per(snap), "s-start-from-snapshot")
	b.ReportMetric(float64(full)/float64(snap), "full/snapshot")
	b.ReportMetric(per(floorCPU), "cpu-s-floor-raw-consumer")
	b.ReportMetric(per(fullCPU), "cpu-s-start-full-replay")
	b.ReportMetric(per(snapCPU), "cpu-s-start-from-snapshot")
}

// cpuTime is the CPU time this process used so far (user and system, the
// embedded NATS server's included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawCount reads n messages of the stream with an ordered consumer and
// only counts them.
func rawCount(b *testing.B, js jetstream.JetStream, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "LEDGER", jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	seen := 0
	cc, err := cons.Consume(func(jetstream.Msg) {
		if seen++; seen == n {
			close(done)
		}
	}, jetstream.PullMaxMessages(4096))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("raw read saw %d of %d", seen, n)
	}
}

// profileStart starts a CPU profile of one start when
// TOKENLEDGER_BENCH_CPUPROFILE names a directory (-cpuprofile would mix in
// the fill and the other starts), and returns what stops it.
func profileStart(b *testing.B, name string) func() {
	dir := os.Getenv("TOKENLEDGER_BENCH_CPUPROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, "BenchmarkServiceRestart_"+name+".cpu"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
