package projections_test

// Where a restore from the projection snapshot spends its CPU, without a
// NATS server in the process: the snapshot of n events
// (TOKENLEDGER_BENCH_EVENTS; the token lifecycles of the replay
// benchmarks) is built in memory once (or read from
// TOKENLEDGER_BENCH_SNAPSHOT when that file exists, and written there
// when it does not, so that profiling runs skip the build), then each
// iteration restores every projection from it and reports each
// section's CPU seconds, the collector's cycles and the heap it ends
// with. Run it with -cpuprofile and GODEBUG=gctrace=1 to see the rest:
//
//	TOKENLEDGER_BENCH_EVENTS=1000000 TOKENLEDGER_BENCH_SNAPSHOT=/tmp/restore-1m.snap \
//	  go test -run '^$' -bench '^BenchmarkRestoreSections$' -benchtime 3x -timeout 30m ./projections/

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

func BenchmarkRestoreSections(b *testing.B) {
	n := benchEvents()
	sections := restoreBenchSnapshot(b, n)
	names := []string{"tokenset", "directory", "audit", "tree"}
	var cpu [4]time.Duration
	var total time.Duration
	var gcs uint32
	var heap uint64
	var kept *everyProjection
	for b.Loop() {
		b.StopTimer()
		kept = nil
		runtime.GC()
		var m0 runtime.MemStats
		runtime.ReadMemStats(&m0)
		b.StartTimer()
		t0 := cpuTime()
		p := newEveryProjection(nil)
		for i, restore := range []func([]byte) error{p.tokens.RestoreSnapshot, p.dir.RestoreSnapshot, p.audit.RestoreSnapshot, p.tree.RestoreSnapshot} {
			c := cpuTime()
			if err := restore(sections[i]); err != nil {
				b.Fatal(err)
			}
			cpu[i] += cpuTime() - c
		}
		total += cpuTime() - t0
		b.StopTimer()
		var m1 runtime.MemStats
		runtime.ReadMemStats(&m1)
		gcs += m1.NumGC - m0.NumGC
		heap = m1.HeapAlloc - min(m0.HeapAlloc, m1.HeapAlloc)
		kept = p
		b.StartTimer()
	}
	runtime.KeepAlive(kept)
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(total), "cpu-s/restore")
	for i, name := range names {
		b.ReportMetric(per(cpu[i]), "cpu-s-"+name)
	}
	b.ReportMetric(float64(gcs)/float64(b.N), "gc/restore")
	b.ReportMetric(float64(heap)/float64(n), "heap-B/event")
}

// restoreBenchSnapshot returns the four sections (token set, directory,
// audit index, tree) of a snapshot of n events, built in memory, or read
// from (and cached in) TOKENLEDGER_BENCH_SNAPSHOT.
func restoreBenchSnapshot(b *testing.B, n int) [4][]byte {
	b.Helper()
	file := os.Getenv("TOKENLEDGER_BENCH_SNAPSHOT")
	if file != "" {
		buf, err := os.ReadFile(file)
		switch {
		case err == nil:
			var s [4][]byte
			for i := range s {
				l, k := binary.Uvarint(buf)
				if k <= 0 || l > uint64(len(buf)-k) {
					b.Fatalf("%s: not a cached snapshot", file)
				}
				s[i], buf = buf[k:k+int(l)], buf[k+int(l):]
			}
			return s
		case !errors.Is(err, fs.ErrNotExist):
			b.Fatal(err)
		}
	}
	p := newEveryProjection(nil)
	applyLifecycles(b, p, n)
	var s [4][]byte
	var err error
	s[0], s[1], s[3] = p.tokens.AppendSnapshot(nil), p.dir.AppendSnapshot(nil), p.tree.AppendSnapshot(nil)
	if s[2], err = p.audit.AppendSnapshot(nil); err != nil {
		b.Fatal(err)
	}
	if file != "" {
		var buf []byte
		for _, x := range s {
			buf = binary.AppendUvarint(buf, uint64(len(x)))
			buf = append(buf, x...)
		}
		if err := os.WriteFile(file, buf, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// profileWindow starts a CPU profile of the calling sub-benchmark's timed
// work when TOKENLEDGER_BENCH_CPUPROFILE names a directory (the file is
// named after the benchmark; -cpuprofile would mix in the fill and the
// other cases), and returns what stops it.
func profileWindow(b *testing.B) func() {
	dir := os.Getenv("TOKENLEDGER_BENCH_CPUPROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, strings.NewReplacer("/", "_").Replace(b.Name())+".cpu"))
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

// applyLifecycles applies n events of token lifecycles to p (per 10
// events 6 created, 2 expiry changes, 2 revocations, as the replay
// benchmarks store them), made in memory one at a time with their stored
// bytes, and not kept.
func applyLifecycles(b *testing.B, p *everyProjection, n int) {
	b.Helper()
	exp := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids, prev []string
	for i := range n {
		var e events.Envelope
		switch i % 10 {
		case 0, 1, 2, 4, 5, 7:
			id := storetest.NewAggregateID()
			c := storetest.TokenCreated()
			c.Verifier = events.VerifierHex(fmt.Sprintf("default:development.%056x", i))
			e = storetest.Event(b, id, c, "")
			ids, prev = append(ids, id), append(prev, e.Hash)
		case 3, 6:
			k := len(ids) - 1
			e = storetest.Event(b, ids[k], events.TokenExpiryChanged{New: &exp}, prev[k])
			prev[k] = e.Hash
		default:
			k := len(ids) - 2
			e = storetest.Event(b, ids[k], events.TokenRevoked{Reason: events.ReasonDeleted}, prev[k])
			prev[k] = e.Hash
		}
		data, err := events.Marshal(&e)
		if err != nil {
			b.Fatal(err)
		}
		stored, err := events.Unmarshal(data)
		if err != nil {
			b.Fatal(err)
		}
		stored.Sequence = uint64(i + 1)
		for _, x := range p.all() {
			if err := x.Apply(stored); err != nil {
				b.Fatal(err)
			}
		}
	}
}
