package jsstore_test

import (
	"math"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// LoadAfter returns exactly the aggregate's events above a sequence, over
// pages, never another aggregate's, and nothing (no error) when the caller
// is up to date: what the command handler's cached states rely on.
func TestLoadAfterReturnsOnlyTheAggregatesNewerEvents(t *testing.T) {
	jsstore.SetLoadPageSize(t, 3)
	e := openStore(t)
	ctx := ctxFor(t)
	id, first, seq := create(t, e.store)
	first.Sequence = seq
	all := []events.Envelope{first}
	prev := first.Hash
	for i := range 8 {
		create(t, e.store) // other aggregates in between
		ev := storetest.Event(t, id, events.TokenExpiryChanged{}, prev)
		stored, err := e.store.Append(ctx, commands.Append{Event: ev, Expected: seq, MsgID: storetest.NewEventID()})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		seq, prev = stored.Seq, ev.Hash
		ev.Sequence = seq
		all = append(all, ev)
	}
	tests := []struct {
		name  string
		after uint64
		want  []events.Envelope
	}{
		{"from the start", 0, all},
		{"after the first", all[0].Sequence, all[1:]},
		{"between two of its events", all[2].Sequence + 1, all[3:]},
		{"after the sixth, over pages", all[5].Sequence, all[6:]},
		{"up to date", seq, nil},
		{"beyond the stream", seq + 100, nil},
		{"the largest sequence", math.MaxUint64, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.store.LoadAfter(ctx, events.KindToken, id, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || len(got) != len(tt.want) {
				t.Fatalf("LoadAfter(%d) returned %d events (nil: %v), want %d", tt.after, len(got), got == nil, len(tt.want))
			}
			for i := range tt.want {
				if got[i].ID != tt.want[i].ID || got[i].Sequence != tt.want[i].Sequence {
					t.Fatalf("event %d is %s at %d, want %s at %d", i, got[i].ID, got[i].Sequence, tt.want[i].ID, tt.want[i].Sequence)
				}
			}
		})
	}
	if _, err := e.store.LoadAfter(ctx, events.KindToken, "a.*", 0); err == nil {
		t.Fatal("LoadAfter accepted an id that widens the subject filter")
	}
}
