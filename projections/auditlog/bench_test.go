package auditlog_test

import (
	"fmt"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/auditlog"
)

// BenchmarkApply records token.created events; 1e9/ns is events per second.
// The log is renewed every 100,000 events (untimed) to bound memory.
func BenchmarkApply(b *testing.B) {
	const pool = 100_000
	evs := make([]events.Envelope, pool)
	for i := range evs {
		evs[i] = ev(b, 1, tok(i), created("development", fmt.Sprint("sdk-", i), "default"), ada, viaPAT)
	}
	l := auditlog.New()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % pool
		if j == 0 && i > 0 {
			b.StopTimer()
			l = auditlog.New()
			b.StartTimer()
		}
		e := evs[j]
		e.Sequence = uint64(j + 1)
		if err := l.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuery pages through one project's events in a log of 100,000,
// of which 1% touch it.
func BenchmarkQuery(b *testing.B) {
	l := auditlog.New()
	for i := 1; i <= 100_000; i++ {
		project := "default"
		if i%100 == 0 {
			project = "rare"
		}
		if err := l.Apply(ev(b, uint64(i), tok(i), created("development", "sdk", project), ada, viaPAT)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		es, _ := l.Query(auditlog.Query{Project: "rare", Type: "token.", Limit: 100})
		if len(es) != 100 {
			b.Fatal(len(es))
		}
	}
}
