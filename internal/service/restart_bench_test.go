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
// snapshot (from it, also to the end of the whole-log check that runs
// once the service is ready: s-whole-log-checked), beside the floor: a raw ordered consumer reading the same
// stream over the same in-process connection. The three alternate in
// every iteration (same load). The ledger is filled with single appends
// from four writers (a million events in 1.5–3 minutes).
// TOKENLEDGER_BENCH_DATA_DIR keeps the filled data dir (and its key file
// beside it) for later runs; TOKENLEDGER_BENCH_SKIP_FULL=1 leaves the
// full replay out (the floor's server then starts from the snapshot);
// TOKENLEDGER_BENCH_CPUPROFILE=<dir> profiles the starts from the
// snapshot only (to the end of their whole-log check).
//
//	TOKENLEDGER_BENCH_EVENTS=1000000 go test -run '^$' -bench '^BenchmarkServiceRestart$' -benchtime 2x -timeout 60m ./internal/service/
func BenchmarkServiceRestart(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("TOKENLEDGER_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	dir := filepath.Join(b.TempDir(), "data")
	if d := os.Getenv("TOKENLEDGER_BENCH_DATA_DIR"); d != "" {
		dir = d // kept between runs: filled once (its key file beside it)
	}
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
	ctx := context.Background()
	if _, err := os.Stat(dir + ".snapshot"); err != nil { // not kept from an earlier run
		m, _ := start(false)
		t0 := time.Now()
		fillHistoriesConcurrently(b, ctx, m.Store, n/5, 5, 4)
		b.Logf("filled %d events in %s", n/5*5, time.Since(t0).Round(time.Second))
		_ = m.Close()
		m, _ = start(true) // a full replay, then the snapshot at shutdown
		_ = m.Close()
		if _, err := os.Stat(dir + ".snapshot"); err != nil {
			b.Fatal(err)
		}
	}
	var last uint64

	// fromSnapshot is the start from the snapshot: to ready (Run's
	// return), and to the end of the whole-log check that follows it.
	fromSnapshot := func() (took, spent, checked, checkedCPU time.Duration) {
		stop := profileStart(b, "from_snapshot")
		t0, c0 := time.Now(), cpuTime()
		m, took := start(true)
		spent = cpuSpent
		if err := m.check.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
		checked, checkedCPU = time.Since(t0), cpuTime()-c0
		stop()
		if m.Runner.Replay().Events > 2 {
			b.Fatalf("the start from the snapshot replayed %d events", m.Runner.Replay().Events)
		}
		_ = m.Close()
		return took, spent, checked, checkedCPU
	}
	var floor, full, snap, floorCPU, fullCPU, snapCPU, checked, checkedCPU time.Duration
	for b.Loop() {
		skipFull := os.Getenv("TOKENLEDGER_BENCH_SKIP_FULL") != "" // the floor's server from the snapshot
		m, took := start(skipFull)
		if err := m.check.Wait(ctx); err != nil { // not beside the floor's read
			b.Fatal(err)
		}
		if skipFull {
			took, cpuSpent = 0, 0
		}
		full, fullCPU = full+took, fullCPU+cpuSpent
		last = m.Runner.LastApplied()
		js, err := jetstream.New(m.nc)
		if err != nil {
			b.Fatal(err)
		}
		t0, c0 := time.Now(), cpuTime()
		rawCount(b, js, int(last))
		floor, floorCPU = floor+time.Since(t0), floorCPU+cpuTime()-c0
		_ = m.Close()
		took, spent, chk, chkCPU := fromSnapshot()
		snap, snapCPU = snap+took, snapCPU+spent
		checked, checkedCPU = checked+chk, checkedCPU+chkCPU
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
	b.ReportMetric(per(checked), "s-whole-log-checked")
	b.ReportMetric(per(checkedCPU), "cpu-s-whole-log-checked")
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
