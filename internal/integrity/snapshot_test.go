package integrity_test

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// TestSnapshotRestoresTheTreeAndTheLastCheckpoint: a Log restored from the
// snapshot of any prefix of the stream has the same roots, proofs and last
// checkpoint as the replayed one, and applying the rest (checkpoints
// included, which check the restored tree) reaches the full replay's root.
func TestSnapshotRestoresTheTreeAndTheLastCheckpoint(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k)
	n := len(l.records)
	full := integrity.NewLog()
	if err := applyAll(t, full, l.records); err != nil {
		t.Fatal(err)
	}
	for p := 0; p <= n; p++ {
		replayed := integrity.NewLog()
		if err := applyAll(t, replayed, l.records[:p]); err != nil {
			t.Fatal(err)
		}
		restored := integrity.NewLog()
		if err := restored.RestoreSnapshot(replayed.AppendSnapshot(nil)); err != nil {
			t.Fatalf("prefix %d: %v", p, err)
		}
		for size := int64(0); size <= int64(p); size++ {
			g, _ := restored.Tree().Root(size)
			w, _ := replayed.Tree().Root(size)
			if g != w {
				t.Fatalf("prefix %d: root of %d differs", p, size)
			}
		}
		gh, gs, gcp, gnote := restored.LastCheckpoint()
		wh, ws, wcp, wnote := replayed.LastCheckpoint()
		if gh != wh || gs != ws || gcp.Size != wcp.Size || gcp.Root != wcp.Root || !bytes.Equal(gnote, wnote) {
			t.Fatalf("prefix %d: last checkpoint %d %+v, want %d %+v", p, gs, gcp, ws, wcp)
		}
		if err := applyAll(t, restored, l.records[p:], seqsFrom(p+1, n)...); err != nil {
			t.Fatalf("prefix %d then the rest: %v", p, err)
		}
		g, _ := restored.Tree().Root(int64(n))
		w, _ := full.Tree().Root(int64(n))
		if g != w || restored.LastApplied() != uint64(n) {
			t.Fatalf("prefix %d then the rest: another root", p)
		}
	}
}

func seqsFrom(first, last int) []uint64 {
	out := []uint64{}
	for s := first; s <= last; s++ {
		out = append(out, uint64(s))
	}
	return out
}

// TestRestoreSnapshotRefusesAnInconsistentTree: truncations, a hash count
// that does not fit the size, and a tree that does not hash to its last
// checkpoint's root are refused, leaving the Log empty.
func TestRestoreSnapshotRefusesAnInconsistentTree(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k)
	lg := integrity.NewLog()
	if err := applyAll(t, lg, l.records); err != nil {
		t.Fatal(err)
	}
	snap := lg.AppendSnapshot(nil)
	for n := range len(snap) {
		r := integrity.NewLog()
		if err := r.RestoreSnapshot(snap[:n]); err == nil {
			t.Fatalf("a snapshot cut to %d of %d bytes restored", n, len(snap))
		}
		if r.LastApplied() != 0 || r.Tree().Size() != 0 {
			t.Fatalf("cut to %d: the log is not empty", n)
		}
	}
	// The leaf of record 29 changed: the tree no longer hashes to the root
	// of the checkpoint at 30. The hashes start after the version, last,
	// size and count uvarints (1 byte each for this small log).
	flipped := bytes.Clone(snap)
	flipped[4+tlog.StoredHashIndex(0, 28)*tlog.HashSize] ^= 1
	if err := integrity.NewLog().RestoreSnapshot(flipped); err == nil {
		t.Fatal("a tree that does not hash to its last checkpoint restored")
	}
	if err := lg.RestoreSnapshot(snap); err == nil || errors.Is(err, integrity.ErrTampered) {
		t.Fatalf("restore into a used log: %v", err)
	}
}
