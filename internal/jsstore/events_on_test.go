package jsstore_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// EventsOn reads back, by sequence, events that are all stored on one
// subject filter (a page of one event type) with Direct Get batches on the
// filter: the events of other subjects between them are skipped by the
// server, events on the filter that were not asked for take places in a
// batch (the rest is asked again), and answers cut by the byte limit
// (events of 8 KiB) are asked again too. It returns exactly the asked
// events, and refuses a sequence that is not stored on the filter.
func TestEventsOnReadsBackExactlyTheAskedSequencesOfOneSubjectFilter(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	const n = 900
	big := strings.Repeat("x", 8<<10)
	var revoked []uint64 // every third event is a revocation, of its own token
	for i := 1; i <= n; i++ {
		var p events.Payload = events.TokenExpired{}
		if i%3 == 0 {
			p = events.TokenRevoked{Reason: fmt.Sprint(i, big)}
			revoked = append(revoked, uint64(i))
		}
		env := storetest.Event(t, storetest.NewAggregateID(), p, "")
		data, err := events.Marshal(&env)
		if err != nil {
			t.Fatal(err)
		}
		if ack, err := e.js.Publish(ctx, env.Subject(), data); err != nil || ack.Sequence != uint64(i) {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	every := func(k int) []uint64 {
		var out []uint64
		for i, q := range revoked {
			if i%k == 0 {
				out = append(out, q)
			}
		}
		return out
	}
	const filter = "ledger.token.*.revoked"
	tests := []struct {
		name string
		seqs []uint64
	}{
		{"one", []uint64{revoked[100]}},
		{"every_revocation", revoked},
		{"every_other_revocation", every(2)},
		{"one_revocation_in_ten", every(10)},
		{"first_and_last", []uint64{revoked[0], revoked[len(revoked)-1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.store.EventsOn(ctx, filter, tt.seqs)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, ev := range got {
				seqs = append(seqs, ev.Sequence)
				p, err := ev.Payload()
				if err != nil || !strings.HasPrefix(p.(events.TokenRevoked).Reason, fmt.Sprint(ev.Sequence, "x")) {
					t.Fatalf("event at %d is not the one stored there (%v)", ev.Sequence, err)
				}
			}
			if !slices.Equal(seqs, tt.seqs) {
				t.Fatalf("read %d events %v…, want %d", len(seqs), seqs[:min(5, len(seqs))], len(tt.seqs))
			}
		})
	}
	for _, tt := range []struct {
		name string
		seqs []uint64
	}{
		{"an_event_of_another_subject", []uint64{revoked[0], revoked[0] + 1}},
		{"beyond_the_stream", []uint64{revoked[0], n + 3}},
		{"not_ascending", []uint64{revoked[1], revoked[0]}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := e.store.EventsOn(ctx, filter, tt.seqs); err == nil {
				t.Fatalf("EventsOn(%v) = %d events, want an error", tt.seqs, len(got))
			}
		})
	}
}
