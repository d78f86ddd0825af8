package service

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// BenchmarkAppendCheckpointing measures one-at-a-time appends of a
// token.created event into two running services (embedded NATS,
// sync_interval: always, the projections and the integrity projection
// following): one appends a signed checkpoint every 1,000 events (the
// default), the other never does. Appends alternate between them, so both
// see the same load; it reports each one's time per append and their
// ratio:
//
//	go test -run '^$' -bench '^BenchmarkAppendCheckpointing$' -benchtime 5000x -count 3 ./internal/service/
func BenchmarkAppendCheckpointing(b *testing.B) {
	start := func(every int) *Main {
		env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
		m := NewMain(Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(b.TempDir(), "data"), NATSListen: "off", ExpiryEvery: time.Hour,
			Replicas: 1, Getenv: func(k string) string { return env[k] }, LogOutput: io.Discard,
			CheckpointEvery: every, CheckpointInterval: time.Hour})
		if err := m.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = m.Close() })
		return m
	}
	without, with := start(1<<30), start(DefaultCheckpointEvery)
	at := time.Now()
	appendOne := func(m *Main, i int) time.Duration {
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
		t0 := time.Now()
		if _, err := m.Store.Append(context.Background(), commands.Append{Event: env, MsgID: env.ID}); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	var dWithout, dWith time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dWithout += appendOne(without, i)
		dWith += appendOne(with, i)
	}
	b.StopTimer()
	_, n, _, _ := with.checkpoints.Latest()
	b.ReportMetric(float64(dWithout.Nanoseconds())/float64(b.N), "ns/append-without")
	b.ReportMetric(float64(dWith.Nanoseconds())/float64(b.N), "ns/append-with")
	b.ReportMetric(float64(dWith)/float64(dWithout), "ratio")
	b.ReportMetric(float64(n), "checkpointed")
}
