package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// BenchmarkColdStart spawns the tokenledger process (this test binary
// running main) on a data dir of 10,000 tokens (~50,000 events; set
// TOKENLEDGER_BENCH_TOKENS for another count) and measures spawn to /health
// 200 and spawn to /ready 200, from the projection snapshot and with
// --snapshot-file off, beside the process's bare start (an empty data
// dir) in the same iteration:
//
//	go test -run '^$' -bench '^BenchmarkColdStart$' -benchtime 5x ./cmd/tokenledger/
func BenchmarkColdStart(b *testing.B) {
	tokens := 10_000
	if v, err := strconv.Atoi(os.Getenv("TOKENLEDGER_BENCH_TOKENS")); err == nil && v > 0 {
		tokens = v
	}
	root := b.TempDir()
	dir := filepath.Join(root, "data")
	env := map[string]string{"INIT_ADMIN_API_TOKENS": servicetest.AdminSecret}
	m := service.NewMain(service.Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1,
		NoSync: true, Getenv: func(k string) string { return env[k] }, LogOutput: io.Discard, CheckpointInterval: time.Hour})
	ctx := context.Background()
	if err := m.Run(ctx); err != nil {
		b.Fatal(err)
	}
	storetest.FillTokenHistory(b, ctx, m.Store, tokens, 5)
	if err := m.Close(); err != nil { // a final checkpoint and snapshot
		b.Fatal(err)
	}

	var health, ready, healthFull, readyFull, bareHealth, bareReady time.Duration
	for i := 0; b.Loop(); i++ {
		h, r := spawnUntilReady(b, dir)
		health, ready = health+h, ready+r
		h, r = spawnUntilReady(b, dir, "--snapshot-file", "off")
		healthFull, readyFull = healthFull+h, readyFull+r
		h, r = spawnUntilReady(b, filepath.Join(root, "bare-"+strconv.Itoa(i)))
		bareHealth, bareReady = bareHealth+h, bareReady+r
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(health), "ms-health-snapshot")
	b.ReportMetric(ms(ready), "ms-ready-snapshot")
	b.ReportMetric(ms(healthFull), "ms-health-full-replay")
	b.ReportMetric(ms(readyFull), "ms-ready-full-replay")
	b.ReportMetric(ms(bareHealth), "ms-health-bare")
	b.ReportMetric(ms(bareReady), "ms-ready-bare")
}

// spawnUntilReady starts `tokenledger serve` on dir and returns the time
// from spawn to /health 200 and to /ready 200; then stops it (SIGTERM).
func spawnUntilReady(b *testing.B, dir string, args ...string) (health, ready time.Duration) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", addr, "--nats-listen", "off", "--data-dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "TOKENLEDGER_TEST_RUN_MAIN=1", "INIT_ADMIN_API_TOKENS="+servicetest.AdminSecret)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			b.Fatal("still running 30 s after SIGTERM")
		}
	}()
	client := &http.Client{Timeout: time.Second}
	up := func(path string) time.Duration {
		deadline := t0.Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if resp, err := client.Get("http://" + addr + path); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return time.Since(t0)
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		b.Fatalf("%s not 200 within 2 minutes", path)
		return 0
	}
	return up("/health"), up("/ready")
}
