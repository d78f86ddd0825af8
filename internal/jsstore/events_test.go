package jsstore_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// Events reads events back by sequence for the audit trail's pages and
// exports: scattered, dense, and in spans whose answer is cut by the Direct
// Get byte limit (events of 8 KiB: 256 of them are 2 MiB, twice the limit).
func TestEventsReadsBackExactlyTheAskedSequences(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	const n = 700
	id := storetest.NewAggregateID()
	big := strings.Repeat("x", 8<<10)
	for i := 1; i <= n; i++ {
		env := storetest.Event(t, id, events.TokenRevoked{Reason: fmt.Sprint(i, big)}, "")
		data, err := events.Marshal(&env)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := e.js.Publish(ctx, env.Subject(), data)
		if err != nil || ack.Sequence != uint64(i) {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	all := make([]uint64, n)
	for i := range all {
		all[i] = uint64(i + 1)
	}
	var sparse, mixed []uint64
	for i := uint64(1); i <= n; i += 37 {
		sparse = append(sparse, i)
	}
	for i := uint64(1); i <= n; i++ {
		if i%10 < 7 || i%97 == 0 {
			mixed = append(mixed, i)
		}
	}
	tests := []struct {
		name string
		seqs []uint64
	}{
		{"one", []uint64{350}},
		{"every_event", all},
		{"scattered", sparse},
		{"runs_with_small_gaps", mixed},
		{"first_and_last", []uint64{1, n}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.store.Events(ctx, tt.seqs)
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
	bad := []struct {
		name string
		seqs []uint64
	}{
		{"beyond_the_stream", []uint64{5, n + 1}},
		{"not_ascending", []uint64{5, 4}},
		{"zero", []uint64{0}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := e.store.Events(ctx, tt.seqs); err == nil {
				t.Fatalf("Events(%v) = %d events, want an error", tt.seqs, len(got))
			}
		})
	}
}
