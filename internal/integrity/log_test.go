package integrity_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

func applyAll(t *testing.T, lg *integrity.Log, records [][]byte, seqs ...uint64) error {
	t.Helper()
	for i, r := range records {
		env, err := events.Unmarshal(r)
		if err != nil {
			t.Fatal(err)
		}
		env.Sequence = uint64(i + 1)
		if seqs != nil {
			env.Sequence = seqs[i]
		}
		if err := lg.Apply(env); err != nil {
			return err
		}
	}
	return nil
}

func TestLogKeepsTheTreeAndTheLastCheckpoint(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k)
	lg := integrity.NewLog()
	if err := applyAll(t, lg, l.records); err != nil {
		t.Fatal(err)
	}
	want, _ := l.tree.Root(35)
	if got, _ := lg.Tree().Root(35); got != want || lg.LastApplied() != 35 {
		t.Fatalf("root %v at %d, want %v at 35", got, lg.LastApplied(), want)
	}
	hash, seq, cp, note := lg.LastCheckpoint()
	if seq != 30 || cp.Size != 29 || !bytes.Equal(note, l.notes[29]) || hash != decode(t, l.records[29]).Hash {
		t.Fatalf("last checkpoint: seq %d, %+v", seq, cp)
	}
	// Replayed events are ignored, as projections must.
	if err := applyAll(t, lg, l.records[:3]); err != nil || lg.LastApplied() != 35 {
		t.Fatalf("replay: %v, at %d", err, lg.LastApplied())
	}
}

func TestLogStopsOnAStreamTheLedgerDidNotWrite(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k)
	t.Run("gap", func(t *testing.T) {
		seqs := []uint64{1, 2, 4}
		if err := applyAll(t, integrity.NewLog(), l.records[:3], seqs...); !errors.Is(err, integrity.ErrTampered) {
			t.Fatalf("got %v, want ErrTampered", err)
		}
	})
	t.Run("checkpoint_over_edited_records", func(t *testing.T) {
		rs := clone(l.records)
		rs[4] = reseal(t, rs[4], func(e *events.Envelope) { e.Reason = "edited" })
		if err := applyAll(t, integrity.NewLog(), rs); !errors.Is(err, integrity.ErrTampered) {
			t.Fatalf("got %v, want ErrTampered", err)
		}
	})
	t.Run("checkpoint_after_an_insertion", func(t *testing.T) {
		rs := append(clone(l.records[:5]), forgedToken(t))
		rs = append(rs, l.records[5:]...)
		if err := applyAll(t, integrity.NewLog(), rs); !errors.Is(err, integrity.ErrTampered) {
			t.Fatalf("got %v, want ErrTampered", err)
		}
	})
}
