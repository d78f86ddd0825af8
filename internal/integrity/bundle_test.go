package integrity_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

func buildBundle(t *testing.T, l *testLog, size int64, from, to uint64, since int64) *integrity.Bundle {
	t.Helper()
	cp, err := integrity.ParseCheckpoint(noteTextOf(t, l.notes[size]))
	if err != nil {
		t.Fatal(err)
	}
	b, err := integrity.BuildBundle(l.tree, cp, l.notes[size], from, to, since, func(seq uint64) ([]byte, error) {
		return l.records[seq-1], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Through its wire format, as an auditor receives it.
	raw, err := integrity.MarshalBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	back, err := integrity.ReadBundle(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func noteTextOf(t *testing.T, signed []byte) string {
	i := bytes.Index(signed, []byte("\n\n"))
	if i < 0 {
		t.Fatal("not a note")
	}
	return string(signed[:i+1])
}

func TestBundleVerifiesWithThePublicKeyAlone(t *testing.T) {
	k := newKey(t, "ledger.example")
	l := baseLog(t, k)
	b := buildBundle(t, l, 29, 1, 29, 19)
	rep, err := integrity.VerifyBundle(b, k.keys, nil, l.notes[19])
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || !rep.Extends || rep.Events != 29 || rep.Checkpoint.Size != 29 {
		t.Fatalf("report %+v", rep)
	}
	part, err := integrity.VerifyBundle(buildBundle(t, l, 29, 5, 12, 0), k.keys, nil, nil)
	if err != nil || part.Complete || part.Events != 8 {
		t.Fatalf("a part: %+v %v", part, err)
	}
}

func TestBundleNamesWhatWasTamperedWith(t *testing.T) {
	k := newKey(t, "ledger.example")
	stranger := newKey(t, "ledger.example")
	l := baseLog(t, k)
	// A second history from sequence 11 on, signed by the same key.
	fork := newTestLog(t, k)
	for _, r := range l.records[:10] {
		fork.add(r)
	}
	fork.revoke("tok-other")
	fork.fill(8, 0)
	fork.checkpoint(k) // size 19, another root

	tests := []struct {
		name     string
		bundle   func() *integrity.Bundle
		keys     func() []byte // the kept checkpoint
		wantSeq  uint64
		wantKind integrity.Kind
	}{
		{"byte_edit", func() *integrity.Bundle {
			b := buildBundle(t, l, 29, 1, 29, 0)
			b.Events[6].Data = bytes.Replace(b.Events[6].Data, []byte(`"v":1`), []byte(`"v":2`), 1)
			return b
		}, nil, 7, integrity.KindByteEdit},
		{"deletion", func() *integrity.Bundle {
			b := buildBundle(t, l, 29, 1, 29, 0)
			b.Events = append(b.Events[:8:8], b.Events[9:]...)
			return b
		}, nil, 9, integrity.KindDeletion},
		{"deletion_at_the_end", func() *integrity.Bundle {
			b := buildBundle(t, l, 29, 1, 29, 0)
			b.Events = b.Events[:20]
			return b
		}, nil, 21, integrity.KindDeletion},
		{"reorder", func() *integrity.Bundle {
			b := buildBundle(t, l, 29, 1, 29, 0)
			b.Events[3], b.Events[4] = b.Events[4], b.Events[3]
			return b
		}, nil, 4, integrity.KindReorder},
		{"swapped_records_keep_their_numbers", func() *integrity.Bundle {
			b := buildBundle(t, l, 29, 1, 29, 0)
			b.Events[3].Data, b.Events[4].Data = b.Events[4].Data, b.Events[3].Data
			return b
		}, nil, 4, integrity.KindByteEdit},
		{"checkpoint_by_another_key", func() *integrity.Bundle {
			b := buildBundle(t, l, 29, 1, 29, 0)
			forged, _ := integrity.SignCheckpoint(integrity.Checkpoint{Origin: "ledger.example", Size: 29, Root: l.treeRoot(t, 29)}, stranger.signer)
			b.Checkpoint = string(forged)
			return b
		}, nil, 1, integrity.KindInsertion},
		{"tail_truncation", func() *integrity.Bundle { return buildBundle(t, l, 19, 1, 19, 0) },
			func() []byte { return l.notes[29] }, 20, integrity.KindTailTruncation},
		{"fork", func() *integrity.Bundle { return buildBundle(t, l, 29, 1, 29, 19) },
			func() []byte { return fork.notes[19] }, 19, integrity.KindFork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kept []byte
			if tt.keys != nil {
				kept = tt.keys()
			}
			_, err := integrity.VerifyBundle(tt.bundle(), k.keys, nil, kept)
			var f *integrity.Finding
			if !errors.As(err, &f) {
				t.Fatalf("got %v, want a finding", err)
			}
			if f.Seq != tt.wantSeq || f.Kind != tt.wantKind {
				t.Fatalf("got %s at %d (%s), want %s at %d", f.Kind, f.Seq, f.Detail, tt.wantKind, tt.wantSeq)
			}
		})
	}
}

func (l *testLog) treeRoot(t *testing.T, n int64) [32]byte {
	r, err := l.tree.Root(n)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FuzzReadBundle: any bytes decode or fail, and never verify without the
// key's checkpoint.
func FuzzReadBundle(f *testing.F) {
	k := newKey(f, "ledger.example")
	f.Add([]byte(`{"format":"tokenledger-bundle/1","checkpoint":"","fromSeq":1,"toSeq":1,"events":[]}`))
	f.Add([]byte(`{"format":"tokenledger-bundle/1","checkpoint":"x\n1\nAAAA\n\n— x AAAA\n","fromSeq":1,"toSeq":2,"events":[{"seq":1,"data":"e30=","proof":[]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := integrity.ReadBundle(bytes.NewReader(raw))
		if err != nil {
			return
		}
		if _, err := integrity.VerifyBundle(b, k.keys, nil, nil); err == nil {
			t.Fatalf("a bundle the key never signed verified: %q", raw)
		}
	})
}
