package projections_test

import (
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections"
)

// A read of one aggregate's subject cannot see a record deleted from the
// stream (or moved to another subject) while the ledger was stopped: the
// read is just shorter. Chains knows each aggregate's last hash, so the
// read, checked against the head taken before it, must be refused when a
// record is missing anywhere in it: first, middle or last, and accepted
// when whole (also with events Chains has not applied yet, appended after
// the head was taken).
func TestChainHeadRefusesAReadOfAnAggregateMissingARecord(t *testing.T) {
	var g chainGen
	c := projections.NewChains()
	var mine []events.Envelope
	for i := range 12 {
		kind, id := "token", "other"
		if i%3 == 0 {
			id = "mine"
		}
		env := g.next(kind, id)
		if id == "mine" {
			mine = append(mine, env)
		}
		if err := c.Apply(env); err != nil {
			t.Fatal(err)
		}
	}
	head := c.Head("token", "mine")
	later := g.next("token", "mine") // stored after the head was taken
	without := func(i int) []events.Envelope { return slices.Delete(slices.Clone(mine), i, i+1) }
	for _, tc := range []struct {
		name      string
		evs       []events.Envelope
		fromStart bool
		refused   bool
	}{
		{"whole", mine, true, false},
		{"whole and one more not applied yet", append(slices.Clone(mine), later), true, false},
		{"from a later event", mine[2:], false, false},
		{"first deleted", without(0), true, true},
		{"middle deleted", without(2), true, true},
		{"last deleted", without(len(mine) - 1), true, true},
		{"last deleted, one more not applied yet", append(without(len(mine)-1), later), true, true},
		{"every one deleted", nil, true, true},
		{"middle deleted, read from a later event", without(2)[1:], false, true},
		{"last deleted, read from a later event", without(len(mine) - 1)[2:], false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := head.Check(tc.evs, tc.fromStart)
			if tc.refused != (err != nil) {
				t.Fatalf("refused %v, want %v: %v", err != nil, tc.refused, err)
			}
			if err != nil && events.AsTamper(err) == nil {
				t.Errorf("not a tamper error: %v", err)
			}
		})
	}
	// An aggregate Chains never saw: an empty read is whole, a read with
	// events up to the head's sequence is not.
	none := c.Head("token", "unknown")
	if err := none.Check(nil, true); err != nil {
		t.Errorf("no events of an unknown aggregate: %v", err)
	}
	if err := none.Check(mine[:1], true); err == nil {
		t.Error("events of an aggregate Chains never saw were accepted")
	}
}
