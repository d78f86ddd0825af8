package projections_test

// A restart of every projection the service builds (token set, directory,
// audit index, integrity tree) from a stream of n events
// (TOKENLEDGER_BENCH_EVENTS), three ways in one run: a raw ordered
// consumer that only counts the messages (the floor), a full replay, and
// a restore from a snapshot (read, HMAC-SHA-256 checked, decoded). Each
// reports its rate, wall seconds and CPU seconds (the process's, the
// in-process NATS server's included); the two restarts report the heap
// the projections hold afterwards, which the NATS server's caches blur
// (BenchmarkHeapPerEvent measures it without them).
//
//	TOKENLEDGER_BENCH_EVENTS=1000000 go test -run '^$' -bench '^BenchmarkRestart$' -benchtime 2x -timeout 60m ./projections/

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

type everyProjection struct {
	tokens *tokenset.Set
	dir    *directory.Directory
	audit  *auditlog.Log
	tree   *integrity.Log
}

func newEveryProjection(r auditlog.Reader) *everyProjection {
	return &everyProjection{tokenset.New(), directory.New(), auditlog.New(r), integrity.NewLog()}
}

func (p *everyProjection) all() []projections.Projection {
	return []projections.Projection{p.tokens, p.dir, p.audit, p.tree}
}

// liveHeap is the live heap after a forced GC.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func BenchmarkRestart(b *testing.B) {
	n := benchEvents()
	srv := natstest.RunServer(b)
	nc := natstest.Connect(b, srv)
	ctx := context.Background()
	store, err := jsstore.Open(ctx, nc, jsstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	fillStream(b, js, n)
	last := uint64(n)
	macKey := []byte("benchmark snapshot key: 32 bytes")

	// The snapshot file, as the service writes it (sections and a MAC).
	file := filepath.Join(b.TempDir(), "data.snapshot")
	var restoreSections [4]int // the lengths of the snapshot's sections
	{
		p := newEveryProjection(store)
		if err := store.Replay(ctx, 1, last, func(e events.Envelope) error {
			for _, x := range p.all() {
				if err := x.Apply(e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		buf := p.tokens.AppendSnapshot(nil)
		buf = p.dir.AppendSnapshot(buf)
		buf, err = p.audit.AppendSnapshot(buf)
		if err != nil {
			b.Fatal(err)
		}
		buf = p.tree.AppendSnapshot(buf)
		sections := [4]int{}
		sections[0] = len(p.tokens.AppendSnapshot(nil))
		sections[1] = len(p.dir.AppendSnapshot(nil))
		a, _ := p.audit.AppendSnapshot(nil)
		sections[2] = len(a)
		sections[3] = len(p.tree.AppendSnapshot(nil))
		mac := hmac.New(sha256.New, macKey)
		mac.Write(buf)
		if err := os.WriteFile(file, mac.Sum(buf), 0o600); err != nil {
			b.Fatal(err)
		}
		b.Logf("snapshot: %d bytes, %.1f B/event", len(buf), float64(len(buf))/float64(n))
		restoreSections = sections
	}

	b.Run("floor_raw_ordered_consumer", func(b *testing.B) {
		cpu := cpuTime()
		for b.Loop() {
			rawCount(b, js, n)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/restart")
		b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/restart")
	})
	var kept *everyProjection
	heapRun := func(b *testing.B, restart func() *everyProjection) {
		var heap, tokens uint64
		var cpu time.Duration
		for b.Loop() {
			kept = nil
			b.StopTimer()
			before := liveHeap()
			b.StartTimer()
			stop := profileWindow(b)
			c := cpuTime()
			kept = restart()
			cpu += cpuTime() - c
			stop()
			b.StopTimer()
			h := liveHeap()
			heap = h - min(before, h)
			t := kept.tokens
			kept.dir, kept.audit, kept.tree = nil, nil, nil
			h = liveHeap()
			tokens = h - min(before, h)
			runtime.KeepAlive(t)
			b.StartTimer()
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/restart")
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/restart")
		b.ReportMetric(float64(heap)/float64(n), "heap-B/event")
		b.ReportMetric(float64(heap-min(heap, tokens))/float64(n), "beyond-tokenset-B/event")
	}
	b.Run("full_replay", func(b *testing.B) {
		heapRun(b, func() *everyProjection {
			p := newEveryProjection(store)
			ps := p.all()
			if err := store.Replay(ctx, 1, last, func(e events.Envelope) error {
				for _, x := range ps {
					if err := x.Apply(e); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			return p
		})
	})
	b.Run("from_snapshot", func(b *testing.B) {
		heapRun(b, func() *everyProjection {
			buf, err := os.ReadFile(file)
			if err != nil {
				b.Fatal(err)
			}
			body, sum := buf[:len(buf)-sha256.Size], buf[len(buf)-sha256.Size:]
			mac := hmac.New(sha256.New, macKey)
			mac.Write(body)
			if !hmac.Equal(mac.Sum(nil), sum) {
				b.Fatal("MAC")
			}
			p := newEveryProjection(store)
			restores := []func([]byte) error{p.tokens.RestoreSnapshot, p.dir.RestoreSnapshot, p.audit.RestoreSnapshot, p.tree.RestoreSnapshot}
			for i, restore := range restores {
				if err := restore(body[:restoreSections[i]]); err != nil {
					b.Fatal(err)
				}
				body = body[restoreSections[i]:]
			}
			if p.tokens.LastApplied() != last || p.tree.LastApplied() != last || p.audit.LastApplied() != last {
				b.Fatal("restored at another sequence")
			}
			return p
		})
	})
	runtime.KeepAlive(kept)
}
