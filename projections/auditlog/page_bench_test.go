package auditlog_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/auditlog"
)

// memReader answers every sequence with one envelope made once (its
// Sequence set): a page's cost without the stream, i.e. the selection
// (bitmaps, time bounds) and the entries.
type memReader struct{ tmpl events.Envelope }

func (r memReader) Events(_ context.Context, seqs []uint64) ([]events.Envelope, error) {
	out := make([]events.Envelope, len(seqs))
	for i, s := range seqs {
		out[i] = r.tmpl
		out[i].Sequence = s
	}
	return out, nil
}

func (r memReader) Aggregate(context.Context, string, string) ([]events.Envelope, error) {
	return nil, nil
}

// BenchmarkFirstPageSelection is the in-memory part of a filtered first
// page over n indexed events (TOKENLEDGER_BENCH_EVENTS, 1,000,000 by
// default; the token lifecycles of the replay benchmarks, by 3 actors over
// 5 projects), the stream's read left out: what the bitmaps cost beside
// the Direct Get a page needs (BenchmarkAuditTrail in projections).
//
//	go test -run '^$' -bench '^BenchmarkFirstPageSelection$' -benchtime 200x ./projections/auditlog/
func BenchmarkFirstPageSelection(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("TOKENLEDGER_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	tmpl := ev(b, 1, tok(1), events.TokenRevoked{Reason: events.ReasonDeleted}, ada, viaPAT)
	l := auditlog.New(memReader{tmpl})
	indexLifecycles(b, l, n)
	ctx := context.Background()
	pages := []struct {
		name string
		q    auditlog.Query
	}{
		{"revocations_in_a_project_newest_first", auditlog.Query{Type: events.TypeTokenRevoked, Project: "p0", Desc: true}},
		{"expiry_changes_by_actor_oldest_first", auditlog.Query{Types: []string{events.TypeTokenExpiryChanged}, Actors: []string{"42"}}},
		{"credential_last_week_newest_first", auditlog.Query{CredentialID: "sat-1", Since: at(uint64(n) - 7*24*60), Desc: true}},
		{"everything_newest_first", auditlog.Query{Desc: true}},
	}
	took := make([][]time.Duration, len(pages))
	for b.Loop() {
		for i, pg := range pages {
			start := time.Now()
			if p, err := l.Page(ctx, pg.q); err != nil || len(p.Entries) != auditlog.DefaultLimit {
				b.Fatalf("%s: %d entries, %v", pg.name, len(p.Entries), err)
			}
			took[i] = append(took[i], time.Since(start))
		}
	}
	for i, pg := range pages {
		slices.Sort(took[i])
		b.ReportMetric(float64(took[i][len(took[i])/2].Nanoseconds())/1e6, pg.name+"-p50-ms")
		b.ReportMetric(float64(took[i][len(took[i])*99/100].Nanoseconds())/1e6, pg.name+"-p99-ms")
	}
}
