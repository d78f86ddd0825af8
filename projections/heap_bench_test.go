package projections_test

// The heap each projection holds after a restart of n events
// (TOKENLEDGER_BENCH_EVENTS; the same token lifecycles as the replay
// benchmarks: per 10 events 6 created, 2 expiry changes, 2 revocations),
// by replay and by restore from a snapshot, without a NATS server in the
// process (its caches would blur the figure): events are made in memory,
// stored bytes included, and applied in order. Each projection's share is
// what the live heap loses when it is dropped.
//
//	TOKENLEDGER_BENCH_EVENTS=1000000 go test -run '^$' -bench '^BenchmarkHeapPerEvent$' -benchtime 1x -timeout 60m ./projections/

import "testing"

func BenchmarkHeapPerEvent(b *testing.B) {
	n := benchEvents()
	// shares drops p's projections one by one and reports what each held.
	shares := func(b *testing.B, p *everyProjection, before uint64, prefix string) {
		h := liveHeap()
		all := h - min(before, h)
		drop := func(f func()) float64 {
			f()
			now := liveHeap()
			freed := h - min(h, now)
			h = now
			return float64(freed) / float64(n)
		}
		tree := drop(func() { p.tree = nil })
		audit := drop(func() { p.audit = nil })
		dir := drop(func() { p.dir = nil })
		tokens := drop(func() { p.tokens = nil })
		b.ReportMetric(float64(all)/float64(n), prefix+"all-B/event")
		b.ReportMetric(tokens, prefix+"tokenset-B/event")
		b.ReportMetric(dir+audit+tree, prefix+"beyond-tokenset-B/event")
		b.ReportMetric(audit, prefix+"audit-B/event")
		b.ReportMetric(tree, prefix+"tree-B/event")
		b.ReportMetric(dir, prefix+"directory-B/event")
	}
	for b.Loop() {
		before := liveHeap()
		p := newEveryProjection(nil)
		applyLifecycles(b, p, n)
		sections := [][]byte{p.tokens.AppendSnapshot(nil), p.dir.AppendSnapshot(nil), nil, p.tree.AppendSnapshot(nil)}
		var err error
		if sections[2], err = p.audit.AppendSnapshot(nil); err != nil {
			b.Fatal(err)
		}
		shares(b, p, before+snapshotBytes(sections), "replayed-")

		before = liveHeap()
		r := newEveryProjection(nil)
		for i, restore := range []func([]byte) error{r.tokens.RestoreSnapshot, r.dir.RestoreSnapshot, r.audit.RestoreSnapshot, r.tree.RestoreSnapshot} {
			if err := restore(sections[i]); err != nil {
				b.Fatal(err)
			}
		}
		size := snapshotBytes(sections)
		b.ReportMetric(float64(size)/float64(n), "snapshot-B/event")
		sections = nil
		shares(b, r, before-min(before, size), "restored-")
	}
}

func snapshotBytes(s [][]byte) uint64 {
	t := 0
	for _, x := range s {
		t += cap(x)
	}
	return uint64(t)
}
