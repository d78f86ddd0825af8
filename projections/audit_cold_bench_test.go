package projections_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/projections/auditlog"
)

// coldPage is one case of [benchFirstPageAfterGC]: a page of the audit
// log, or (q nil) a raw Direct Get of seqs, its floor.
type coldPage struct {
	name string
	q    *auditlog.Query
	seqs []uint64
}

// benchFirstPageAfterGC times first pages, and the raw Direct Gets of the
// same messages, each right after a garbage collection (not timed).
//
// nats-server (2.12 and later) holds the read cache of each message block
// by a weak pointer: a garbage collection of the process reclaims it, and
// the next read of the block loads the whole block (8 MiB for LEDGER) from
// its file and indexes it again. The server is embedded in this process
// (and in `tokenledger serve`), so a first page that is the first read of
// its block after a collection pays that load; the raw Direct Get of the
// same messages after a collection is its floor. At most 25 rounds run
// (each collection of a million-event heap takes a few hundred ms).
func benchFirstPageAfterGC(b *testing.B, store *jsstore.Store, log *auditlog.Log, cases []coldPage) {
	ctx := context.Background()
	rounds := max(1, min(b.N, 25))
	took := make([][]time.Duration, len(cases))
	cpu := make([]time.Duration, len(cases))
	b.ResetTimer()
	for range rounds {
		for i, c := range cases {
			b.StopTimer()
			runtime.GC()
			b.StartTimer()
			start, used := time.Now(), cpuTime()
			if c.q != nil {
				if p, err := log.Page(ctx, *c.q); err != nil || len(p.Entries) == 0 {
					b.Fatalf("%s: %d entries, %v", c.name, len(p.Entries), err)
				}
			} else if err := store.EventBytes(ctx, c.seqs, func(uint64, []byte) error { return nil }); err != nil {
				b.Fatalf("%s: %v", c.name, err)
			}
			took[i] = append(took[i], time.Since(start))
			cpu[i] += cpuTime() - used
		}
	}
	for i, c := range cases {
		reportLatencies(b, c.name, took[i], cpu[i])
	}
}

// reportLatencies reports the p50 and p99 of took (sorted here) and the
// CPU per call of the process, as name-p50-ms, name-p99-ms and name-cpu-ms.
func reportLatencies(b *testing.B, name string, took []time.Duration, cpu time.Duration) {
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(took[len(took)/2]), name+"-p50-ms")
	b.ReportMetric(ms(took[len(took)*99/100]), name+"-p99-ms")
	b.ReportMetric(ms(cpu)/float64(len(took)), name+"-cpu-ms")
}
