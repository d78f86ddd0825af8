package integrity

import (
	"fmt"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestCheckHeadNamesTheFirstRecordThatDiffers builds the head and its
// leaves over 20 records (the stream's last checkpoint covering 12), then
// checks a tampered stream against them.
func TestCheckHeadNamesTheFirstRecordThatDiffers(t *testing.T) {
	recs := make([][]byte, 20)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"record":%d}`, i+1)
	}
	const base = 12
	honest := treeOf(recs)
	root, _ := honest.Root(int64(len(recs)))
	head := Checkpoint{Origin: "test", Size: int64(len(recs)), Root: root}
	var leaves TailLeaves
	leaves.Base = base
	for _, r := range recs[base:] {
		leaves.Leaves = append(leaves.Leaves, tlog.RecordHash(r))
	}
	b := append(LeavesHeader(base), AppendLeafBytes(nil, leaves.Leaves...)...)
	parsed, err := ParseLeaves(append(b, 1, 2, 3)) // a cut-short last write is ignored
	if err != nil || parsed.Base != base || !slices.Equal(parsed.Leaves, leaves.Leaves) {
		t.Fatalf("ParseLeaves: %v, base %d, %d leaves", err, parsed.Base, len(parsed.Leaves))
	}

	without := func(i int) [][]byte { return slices.Delete(slices.Clone(recs), i, i+1) }
	tests := []struct {
		name   string
		stream [][]byte
		leaves *TailLeaves
		seq    uint64
		kind   Kind
		intact bool
	}{
		{name: "intact", stream: recs, leaves: &leaves, intact: true},
		{name: "intact and longer", stream: append(slices.Clone(recs), []byte("21")), leaves: &leaves, intact: true},
		{name: "a middle record deleted, the later renumbered", stream: without(15), leaves: &leaves, seq: 16, kind: KindDeletion},
		{name: "the last record deleted", stream: without(19), leaves: &leaves, seq: 20, kind: KindTruncation},
		{name: "the last 3 deleted", stream: recs[:17], leaves: &leaves, seq: 18, kind: KindTruncation},
		{name: "a record inserted", stream: slices.Insert(slices.Clone(recs), 14, []byte("x")), leaves: &leaves, seq: 15, kind: KindInsertion},
		{name: "two records swapped", stream: swap(recs, 16, 17), leaves: &leaves, seq: 17, kind: KindReorder},
		{name: "the last record replaced", stream: append(slices.Clone(recs[:19]), []byte("y")), leaves: &leaves, seq: 20, kind: KindByteEdit},
		{name: "no leaves: deletion is an alteration after the proven size", stream: append(without(15), []byte("z")), seq: 13, kind: KindAltered},
		{name: "no leaves: a shorter stream is a truncation", stream: without(15), seq: 20, kind: KindTruncation},
		{name: "leaves that are not the head's are not used", stream: without(15), leaves: &TailLeaves{Base: base, Leaves: slices.Repeat([]tlog.Hash{{1}}, 8)}, seq: 20, kind: KindTruncation},
		{name: "a record before the leaves changed", stream: append(append(slices.Clone(recs[:3]), []byte("w")), recs[4:]...), leaves: &leaves, seq: 13, kind: KindAltered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := CheckHead(treeOf(tt.stream), head, tt.leaves, base, "the head")
			if tt.intact {
				if f != nil {
					t.Fatalf("intact stream: %v", f)
				}
				return
			}
			if f == nil || f.Seq != tt.seq || f.Kind != tt.kind {
				t.Fatalf("got %v; want %s at %d", f, tt.kind, tt.seq)
			}
		})
	}
}

func treeOf(recs [][]byte) *Tree {
	t := NewTree()
	for _, r := range recs {
		_ = t.Append(r)
	}
	return t
}

func swap(recs [][]byte, i, j int) [][]byte {
	out := slices.Clone(recs)
	out[i], out[j] = out[j], out[i]
	return out
}
