package projections_test

// Replay of a stored stream into the token set, beside the raw
// ordered-consumer rate of the same stream in the same run:
//
//	go test -run '^$' -bench '^BenchmarkReplayTokenSet$' -benchtime 3x ./projections/
//	TOKENLEDGER_BENCH_EVENTS=1000000 go test -run '^$' -bench '^BenchmarkReplayTokenSet$' -benchtime 3x -timeout 30m ./projections/
//
// The stream holds realistic token lifecycles: per 10 events, 6
// token.created, 2 token.expiry-changed and 2 token.revoked.

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/storetest"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("TOKENLEDGER_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// fillStream publishes n envelopes of token lifecycles with async publish,
// without the headers the ledger's appends store with each event (see
// fillSignedStream), which cost a replay 30-40 % more CPU per event (BenchmarkReplaySignatureChecks
// reads a stream with them).
func fillStream(b *testing.B, js jetstream.JetStream, n int) { fillEvents(b, js, n, nil, false) }

// fillSignedStream is fillStream with every event signed by sign, stored
// as the ledger appends them: with the headers of jsstore's append (the
// stream, the event's id for deduplication, and the aggregate's expected
// last sequence), which nats.go decodes again on every delivery.
func fillSignedStream(b testing.TB, js jetstream.JetStream, n int, sign events.Signer) {
	fillEvents(b, js, n, sign, true)
}

// fillEvents publishes n events, signed by sign unless it is nil, with the
// ledger's append headers when ledgerHeaders is set.
func fillEvents(b testing.TB, js jetstream.JetStream, n int, sign events.Signer, ledgerHeaders bool) {
	b.Helper()
	var ids []string
	var prev []string
	var last []uint64 // the sequence of each aggregate's last event
	seq := uint64(0)  // the stream starts empty; each publish takes the next
	publish := func(e events.Envelope, lastSeq uint64) string {
		if sign != nil {
			if err := e.Sign(sign); err != nil {
				b.Fatal(err)
			}
		}
		data, err := events.Marshal(&e)
		if err != nil {
			b.Fatal(err)
		}
		m := &nats.Msg{Subject: e.Subject(), Data: data}
		if ledgerHeaders {
			m.Header = make(nats.Header, 4)
			m.Header.Set(jetstream.ExpectedStreamHeader, "LEDGER")
			m.Header.Set(jetstream.MsgIDHeader, e.ID)
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(lastSeq, 10))
			m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, events.AggregateFilter(e.AggregateKind, e.AggregateID))
		}
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
		seq++
		return e.Hash
	}
	exp := time.Now().Add(24 * time.Hour)
	for i := 0; i < n; i++ {
		switch i % 10 {
		case 0, 1, 2, 4, 5, 7:
			id := storetest.NewAggregateID()
			c := storetest.TokenCreated()
			c.Verifier = events.VerifierHex(fmt.Sprintf("default:development.%056x", i))
			e := storetest.Event(b, id, c, "")
			ids, prev = append(ids, id), append(prev, publish(e, 0))
			last = append(last, seq)
		case 3, 6:
			k := len(ids) - 1
			e := storetest.Event(b, ids[k], events.TokenExpiryChanged{New: &exp}, prev[k])
			prev[k] = publish(e, last[k])
			last[k] = seq
		default:
			k := len(ids) - 2
			e := storetest.Event(b, ids[k], events.TokenRevoked{Reason: events.ReasonDeleted}, prev[k])
			prev[k] = publish(e, last[k])
			last[k] = seq
		}
		if i%4096 == 4095 {
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("publish did not complete")
	}
	if info, err := js.Stream(context.Background(), "LEDGER"); err != nil || info.CachedInfo().State.Msgs != uint64(n) {
		b.Fatalf("filled stream: %v", err)
	}
}

func BenchmarkReplayTokenSet(b *testing.B) {
	n := benchEvents()
	srv := natstest.RunServer(b)
	nc := natstest.Connect(b, srv) // loopback TCP; the service's in-process connection measured alike at 1M (2026-12-06)
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
	last, err := store.LastSequence(ctx)
	if err != nil || last != uint64(n) {
		b.Fatalf("stream holds %d events, want %d (%v)", last, n, err)
	}

	b.Run("raw_ordered_consumer", func(b *testing.B) {
		for b.Loop() {
			rawCount(b, js, n)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("into_tokenset", func(b *testing.B) {
		var set *tokenset.Set
		for b.Loop() {
			set = tokenset.New()
			if err := store.Replay(ctx, 1, last, set.Apply); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		if set.LastApplied() != last || set.Len() != n*6/10 {
			b.Fatalf("set has %d tokens up to %d, want %d up to %d", set.Len(), set.LastApplied(), n*6/10, last)
		}
	})
}

// BenchmarkReplayAllProjections is what a restart does: replay into the
// token set, the directory and the audit log together. It reports the heap
// the three hold afterwards.
func BenchmarkReplayAllProjections(b *testing.B) {
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
	var heap, others uint64
	for b.Loop() {
		set, dir, log := tokenset.New(), directory.New(), auditlog.New(store)
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := store.Replay(ctx, 1, uint64(n), func(e events.Envelope) error {
			for _, p := range []projections.Projection{set, dir, log} {
				if err := p.Apply(e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(dir)
		runtime.KeepAlive(log)
		// What the directory and the audit log hold beyond the token set.
		dir, log = nil, nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		others = heap - min(heap, after.HeapAlloc-before.HeapAlloc)
		runtime.KeepAlive(set)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(heap)/float64(n), "heap-B/event")
	b.ReportMetric(float64(heap-others)/float64(n), "tokenset-B/event")
	b.ReportMetric(float64(others)/float64(n), "dir+audit-B/event")
}

// BenchmarkAuditTrail measures the audit trail on a stream of n events
// (TOKENLEDGER_BENCH_EVENTS): the first page of filtered queries (p99
// over the iterations) and an export of every event (rate and the heap
// it grows by, sampled every 10,000 events), each beside its floor in the
// same run: a Direct Get of one event and of 100, a raw Direct Get of a
// page's own messages by sequence ("…_floor_by_sequence"), and the raw
// ordered consumer. "first_page_after_gc" times the same pages and raw
// reads each right after a garbage collection, which reclaims nats-server's
// cache of the blocks read (see benchFirstPageAfterGC).
//
//	TOKENLEDGER_BENCH_EVENTS=1000000 go test -run '^$' -bench '^BenchmarkAuditTrail$' -benchtime 200x -timeout 30m ./projections/
func BenchmarkAuditTrail(b *testing.B) {
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
	log := auditlog.New(store)
	if err := store.Replay(ctx, 1, uint64(n), log.Apply); err != nil {
		b.Fatal(err)
	}
	var someToken string
	if p, err := log.Page(ctx, auditlog.Query{Type: events.TypeTokenRevoked, Desc: true, Limit: 1}); err != nil || len(p.Entries) != 1 {
		b.Fatalf("no revocation: %v", err)
	} else {
		someToken = p.Entries[0].AggregateID
	}
	pages := []struct {
		name string
		q    auditlog.Query
		// filter: the page's messages are on this subject filter; its
		// floor (name "…_floor_by_sequence") is a raw Direct Get of the
		// same messages by sequence, the stream's part of the page without
		// decoding or selection.
		filter string
		seqs   []uint64
		bySeq  bool
	}{
		{name: "floor_direct_get_one"},
		{name: "floor_direct_get_100_raw"},
		{name: "revocations_newest_first", q: auditlog.Query{Type: events.TypeTokenRevoked, Project: "default", Desc: true}},
		{name: "revocations_newest_first_floor_by_sequence", filter: "ledger.*.*.revoked", bySeq: true},
		{name: "expiry_changes_by_actor_oldest_first", q: auditlog.Query{Types: []string{events.TypeTokenExpiryChanged}, Actors: []string{"42"}}},
		{name: "expiry_changes_by_actor_oldest_first_floor_by_sequence", filter: "ledger.*.*.expiry-changed", bySeq: true},
		{name: "one_token", q: auditlog.Query{AggregateID: someToken, Kind: events.KindToken}},
		{name: "second_half_of_the_stream", q: auditlog.Query{FromSeq: uint64(n / 2), Type: "token."}},
	}
	for i := range pages {
		if pages[i].filter == "" {
			continue
		}
		j := i - 1
		for pages[j].filter != "" {
			j--
		}
		p, err := log.Page(ctx, pages[j].q)
		if err != nil || len(p.Entries) == 0 {
			b.Fatalf("%s: %d entries, %v", pages[j].name, len(p.Entries), err)
		}
		for _, e := range p.Entries {
			pages[i].seqs = append(pages[i].seqs, e.Seq)
		}
		slices.Sort(pages[i].seqs)
	}
	// Every iteration runs the floor and each page once, in turn, so that
	// all of them see the same moments of the machine; each reports its
	// p50 and p99 (and CPU per call) over the iterations. Every other
	// iteration runs them in the reverse order: a page and the floor that
	// reads the same block are then equally often the first read of it
	// after a garbage collection (which costs the reload of the block; see
	// benchFirstPageAfterGC).
	hundred := make([]uint64, auditlog.DefaultLimit) // a page's worth, from the middle
	for i := range hundred {
		hundred[i] = uint64(n/2 + i)
	}
	b.Run("first_page", func(b *testing.B) {
		took := make([][]time.Duration, len(pages))
		cpu := make([]time.Duration, len(pages))
		stop := profileWindow(b)
		order := make([]int, len(pages))
		for i := range order {
			order[i] = i
		}
		for b.Loop() {
			slices.Reverse(order)
			for _, i := range order {
				pg := pages[i]
				start, c := time.Now(), cpuTime()
				switch {
				case pg.name == "floor_direct_get_one":
					if _, err := store.Events(ctx, []uint64{uint64(n / 2)}); err != nil {
						b.Fatal(err)
					}
				case pg.name == "floor_direct_get_100_raw":
					if err := store.EventBytes(ctx, hundred, func(uint64, []byte) error { return nil }); err != nil {
						b.Fatal(err)
					}
				case pg.bySeq:
					if err := store.EventBytes(ctx, pg.seqs, func(uint64, []byte) error { return nil }); err != nil {
						b.Fatal(err)
					}
				default:
					if p, err := log.Page(ctx, pg.q); err != nil || len(p.Entries) == 0 {
						b.Fatalf("%s: %d entries, %v", pg.name, len(p.Entries), err)
					}
				}
				took[i] = append(took[i], time.Since(start))
				cpu[i] += cpuTime() - c
			}
		}
		stop()
		for i, pg := range pages {
			reportLatencies(b, pg.name, took[i], cpu[i])
		}
	})
	b.Run("first_page_after_gc", func(b *testing.B) {
		var cases []coldPage
		for _, pg := range pages {
			switch {
			case pg.name == "floor_direct_get_one":
				cases = append(cases, coldPage{name: pg.name, seqs: hundred[:1]})
			case pg.name == "floor_direct_get_100_raw":
				cases = append(cases, coldPage{name: pg.name, seqs: hundred})
			case pg.bySeq:
				cases = append(cases, coldPage{name: pg.name, seqs: pg.seqs})
			case pg.filter == "":
				cases = append(cases, coldPage{name: pg.name, q: &pg.q})
			}
		}
		benchFirstPageAfterGC(b, store, log, cases)
	})
	b.Run("export_all/floor_raw_ordered_consumer", func(b *testing.B) {
		for i := 0; i < max(1, min(b.N, 2)); i++ {
			rawCount(b, js, n)
		}
		b.ReportMetric(float64(n)*float64(max(1, min(b.N, 2)))/b.Elapsed().Seconds(), "events/s")
	})
	// Memory: every checkpointEvery events the timer stops, a GC runs and
	// the live heap is compared with the live heap before the export, so
	// the figure is what the export holds, not garbage not yet collected.
	const checkpointEvery = 100_000
	exportRun := func(b *testing.B, scan func(visit func() error) error) {
		var before, now runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var peak uint64
		runs := max(1, min(b.N, 2))
		for i := 0; i < runs; i++ {
			seen := 0
			err := scan(func() error {
				if seen++; seen%checkpointEvery == 0 {
					b.StopTimer()
					runtime.GC()
					runtime.ReadMemStats(&now)
					peak = max(peak, now.HeapAlloc-min(now.HeapAlloc, before.HeapAlloc))
					b.StartTimer()
				}
				return nil
			})
			if err != nil || seen != n {
				b.Fatalf("export saw %d of %d: %v", seen, n, err)
			}
		}
		b.ReportMetric(float64(n)*float64(runs)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(peak)/(1<<20), "live-heap-growth-MiB")
	}
	b.Run("export_all/scan_decoded", func(b *testing.B) {
		exportRun(b, func(visit func() error) error {
			_, err := log.Scan(ctx, auditlog.Query{}, 0, func(auditlog.Entry) error { return visit() })
			return err
		})
	})
	b.Run("export_all/scan_raw_ndjson", func(b *testing.B) {
		exportRun(b, func(visit func() error) error {
			var line []byte
			_, err := log.ScanRaw(ctx, auditlog.Query{}, 0, func(seq uint64, data []byte) error {
				line = append(append(append(line[:0], `{"seq":`...), strconv.FormatUint(seq, 10)...), data[1:]...)
				if _, err := io.Discard.Write(line); err != nil {
					return err
				}
				return visit()
			})
			return err
		})
	})
}

// rawCount reads the whole stream with an ordered consumer and only counts.
func rawCount(b *testing.B, js jetstream.JetStream, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, "LEDGER", jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	seen := 0
	cc, err := cons.Consume(func(m jetstream.Msg) {
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
		b.Fatalf("raw replay saw %d of %d", seen, n)
	}
}
