package auditlog_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/auditlog"
)

// BenchmarkApply indexes token.created events; 1e9/ns is events per
// second. The log is renewed every 100,000 events (untimed) to bound
// memory. Pages and exports are measured on a real stream in
// projections/replay_bench_test.go.
func BenchmarkApply(b *testing.B) {
	const pool = 100_000
	evs := make([]events.Envelope, pool)
	for i := range evs {
		evs[i] = ev(b, 1, tok(i), created("development", fmt.Sprint("sdk-", i), "default"), ada, viaPAT)
	}
	l := auditlog.New(nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % pool
		if j == 0 && i > 0 {
			b.StopTimer()
			l = auditlog.New(nil)
			b.StartTimer()
		}
		e := evs[j]
		e.Sequence = uint64(j + 1)
		if err := l.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeapPerEvent is the heap the log holds per event after indexing
// n token lifecycles (TOKENLEDGER_BENCH_EVENTS, 1,000,000 by default):
// per 10 events, 6 token.created, 2 token.expiry-changed, 2 token.revoked,
// as in projections' replay benchmarks, by 3 actors over 5 projects.
//
//	go test -run '^$' -bench '^BenchmarkHeapPerEvent$' -benchtime 1x ./projections/auditlog/
func BenchmarkHeapPerEvent(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TOKENLEDGER_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	var heap uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := auditlog.New(nil)
		indexLifecycles(b, l, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
		runtime.KeepAlive(l)
	}
	b.ReportMetric(float64(heap)/float64(n), "heap-B/event")
}

// indexLifecycles applies n events of token lifecycles to l: per 10
// events 6 token.created, 2 token.expiry-changed, 2 token.revoked, by 3
// actors over 5 projects (made one at a time, not kept).
func indexLifecycles(b *testing.B, l *auditlog.Log, n int) {
	b.Helper()
	actors := []events.Actor{ada, bob, ci}
	vias := []events.Via{viaPAT, viaSA, viaSSO}
	var ids []string
	for i := range n {
		seq := uint64(i + 1)
		var e events.Envelope
		switch i % 10 {
		case 0, 1, 2, 4, 5, 7:
			id := tok(i)
			ids = append(ids, id)
			e = ev(b, seq, id, created("development", "sdk", fmt.Sprint("p", i%5)), actors[i%3], vias[i%3])
		case 3, 6:
			e = ev(b, seq, ids[len(ids)-1], events.TokenExpiryChanged{New: ptr(at(100))}, actors[i%3], vias[i%3])
		default:
			e = ev(b, seq, ids[len(ids)-2], events.TokenRevoked{Reason: events.ReasonDeleted}, actors[i%3], vias[i%3])
		}
		if err := l.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
}
