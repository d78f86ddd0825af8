package jsstore_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// An append whose expectation covers a subject filter wider than its own
// aggregate conflicts when any event on the filter is newer than expected,
// and is stored when none is; LastSequenceOn reads that expectation.
func TestAppend_ExpectationOverASubjectFilter(t *testing.T) {
	e := openStore(t)
	ctx := ctxFor(t)
	filter := events.SubjectPrefix + "." + events.KindEnvironment + ".>"
	if seq, err := e.store.LastSequenceOn(ctx, filter); err != nil || seq != 0 {
		t.Fatalf("empty filter: %d, %v", seq, err)
	}
	env := func(name string, p events.Payload, prev string) events.Envelope {
		return storetest.Event(t, name, p, prev)
	}
	a := env("blue", events.EnvironmentCreated{}, "")
	storedA, err := e.store.Append(ctx, commands.Append{Event: a, MsgID: storetest.NewEventID()})
	if err != nil {
		t.Fatal(err)
	}
	seqA := storedA.Seq
	create(t, e.store) // an event outside the filter changes nothing
	last, err := e.store.LastSequenceOn(ctx, filter)
	if err != nil || last != seqA {
		t.Fatalf("LastSequenceOn = %d, %v; want %d", last, err, seqA)
	}
	b := env("green", events.EnvironmentCreated{}, "")
	if _, err := e.store.Append(ctx, commands.Append{Event: b, MsgID: storetest.NewEventID()}); err != nil {
		t.Fatal(err)
	}
	// Deleting blue expecting the filter at seqA: green's creation is newer.
	del := env("blue", events.EnvironmentDeleted{}, a.Hash)
	_, err = e.store.Append(ctx, commands.Append{Event: del, Expected: seqA, ExpectedFilter: filter, MsgID: storetest.NewEventID()})
	if err := errIs(err, commands.ErrConflict); err != nil {
		t.Fatal(err)
	}
	last, err = e.store.LastSequenceOn(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Append(ctx, commands.Append{Event: del, Expected: last, ExpectedFilter: filter, MsgID: storetest.NewEventID()}); err != nil {
		t.Fatalf("append with the current filter sequence: %v", err)
	}
}
