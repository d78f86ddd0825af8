package integrity_test

import (
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// A replay hashes each record on its decoding goroutine (Prepare) and
// Apply takes that leaf hash instead of hashing the bytes again: the
// tree of prepared events is the tree of events applied alone
// (checkpoints checked the same), and the hash Prepare attached is the
// one that enters the tree.
func TestLogAppliesTheLeafHashPrepareAttached(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k)
	plain, prepared := integrity.NewLog(), integrity.NewLog()
	if err := applyAll(t, plain, l.records); err != nil {
		t.Fatal(err)
	}
	prepared.Grow(len(l.records))
	for i, r := range l.records {
		env := decode(t, r)
		env.Sequence = uint64(i + 1)
		prepared.Prepare(&env)
		if err := prepared.Apply(env); err != nil {
			t.Fatalf("apply prepared seq %d: %v", env.Sequence, err)
		}
	}
	n := int64(len(l.records))
	want, _ := plain.Tree().Root(n)
	if got, err := prepared.Tree().Root(n); err != nil || got != want {
		t.Fatalf("prepared root %v (%v), want %v", got, err, want)
	}

	// The attached hash is used as is: a different one makes another
	// tree (so Apply did not hash the bytes a second time).
	other := integrity.NewLog()
	env := decode(t, l.records[0])
	env.Sequence = 1
	env.SetRecordHash([32]byte{1})
	if err := other.Apply(env); err != nil {
		t.Fatal(err)
	}
	first, _ := plain.Tree().Root(1)
	if got, _ := other.Tree().Root(1); got == first {
		t.Fatal("Apply hashed the stored bytes instead of taking the prepared leaf hash")
	}
}

func TestLogPrepareLeavesAnEventWithoutStoredBytes(t *testing.T) {
	var env events.Envelope
	integrity.NewLog().Prepare(&env)
	if _, ok := env.RecordHash(); ok {
		t.Fatal("Prepare attached a hash to an event without stored bytes")
	}
}
