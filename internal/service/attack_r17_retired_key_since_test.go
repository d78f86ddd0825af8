package service

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// The README's answer to a bundle of a range that does not start at 1
// (whose anchor any given key may sign) is --since-checkpoint: the auditor
// gives the checkpoint kept from the last audit, and verify proves the
// range extends it. But the holder of the ledger's retired key builds the
// tree of the genuine records up to the kept checkpoint plus records of
// their own, signs its head with the retired key, and exports the range
// after the kept size with the consistency proof: the proof holds (the
// first records are genuine), the anchor verifies (every key of the chain
// is given), and the range's records were not checked against the key
// chain at all. verify said "intact" over an event the ledger never wrote,
// whether the kept checkpoint is the new key's (after the rotation) or the
// old key's (the rotation then inside the range).
func TestVerifySinceCheckpointRefusesARangeTheRetiredKeyExtends(t *testing.T) {
	var oldKept []byte
	var oldSize int64
	m, retired := rotatedLedger(t, filepath.Join(t.TempDir(), "data"), func(m *Main) {
		last, _ := m.Store.LastSequence(context.Background())
		waitCheckpoint(t, m, int64(last))
		oldKept, oldSize, _, _ = m.checkpoints.Latest() // an audit before the rotation
	})
	newKept, newSize, _, _ := m.checkpoints.Latest() // an audit after the rotation
	tokenLife(t, m, "later")
	last, _ := m.Store.LastSequence(context.Background())
	waitCheckpoint(t, m, int64(last))
	keys := []string{"--key", retired.VerifierKey(), "--key", m.VerifierKey()}

	// The genuine ranges after each kept checkpoint verify intact: the
	// chain starts at the kept checkpoint's key and follows the rotation.
	for _, k := range []struct {
		kept []byte
		size int64
	}{{oldKept, oldSize}, {newKept, newSize}} {
		part := filepath.Join(t.TempDir(), "range.bundle.json")
		from, size := strconv.FormatInt(k.size+1, 10), strconv.FormatInt(k.size, 10)
		if code, _, errOut := runCLI(t, "export", "--server", m.URL(), "--bundle", part, "--from-seq", from, "--since", size); code != 0 {
			t.Fatalf("export --bundle --from-seq %s --since %s: exit %d %s", from, size, code, errOut)
		}
		since := filepath.Join(t.TempDir(), "kept.checkpoint")
		if err := os.WriteFile(since, k.kept, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := runCLI(t, append([]string{"verify", "--bundle", part, "--since-checkpoint", since}, keys...)...); code != cli.ExitOK {
			t.Fatalf("the genuine range after the checkpoint of %d records: exit %d %s %s", k.size, code, out, errOut)
		}
	}

	// The genuine records up to the new key's checkpoint.
	whole := filepath.Join(t.TempDir(), "whole.bundle.json")
	if code, _, errOut := runCLI(t, "export", "--server", m.URL(), "--bundle", whole, "--to-seq", strconv.FormatInt(newSize, 10)); code != 0 {
		t.Fatalf("export --bundle: exit %d %s", code, errOut)
	}
	raw, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := integrity.ReadBundle(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for _, e := range genuine.Events {
		recs = append(recs, e.Data)
	}
	if int64(len(recs)) != newSize {
		t.Fatalf("the genuine bundle holds %d records, want %d", len(recs), newSize)
	}

	data := retiredKeyForgery(t, retired)
	recs = append(recs, data)
	tree := integrity.NewTree()
	for _, r := range recs {
		if err := tree.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	root, err := tree.Root(tree.Size())
	if err != nil {
		t.Fatal(err)
	}
	cp := integrity.Checkpoint{Origin: retired.Name(), Size: tree.Size(), Root: root}
	signed, err := integrity.SignCheckpoint(cp, retired.Signer())
	if err != nil {
		t.Fatal(err)
	}
	read := func(seq uint64) ([]byte, error) { return recs[seq-1], nil }
	seq := uint64(len(recs))

	for _, tc := range []struct {
		name string
		kept []byte
		size int64
	}{
		{"the kept checkpoint is the new key's", newKept, newSize},
		{"the kept checkpoint is the old key's, the rotation inside the range", oldKept, oldSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := integrity.BuildBundle(tree, cp, signed, uint64(tc.size)+1, seq, tc.size, read)
			if err != nil {
				t.Fatal(err)
			}
			since := filepath.Join(t.TempDir(), "kept.checkpoint")
			if err := os.WriteFile(since, tc.kept, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, append([]string{"verify", "--bundle", writeBundle(t, b), "--since-checkpoint", since, "--json"}, keys...)...)
			var rep struct {
				Intact bool   `json:"intact"`
				Kind   string `json:"kind"`
				Seq    uint64 `json:"seq"`
			}
			_ = json.Unmarshal([]byte(out), &rep)
			if code != cli.ExitTampered || rep.Kind != "forgery" || rep.Seq != seq {
				t.Fatalf("verify --since-checkpoint of a range the retired key extends: exit %d %s %s; want the event at %d named a forgery", code, out, errOut, seq)
			}
		})
	}
}
