package integrity

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"
)

// The signed tree head: after every event it applies, the ledger keeps a
// checkpoint of the whole stream (a signed note, the format of a
// checkpoint) outside the data dir, and beside it the leaf hashes of the
// records after the stream's last checkpoint ([TailLeaves]). The note
// proves how long the stream was and what it held; the leaves, bound to
// the note's root, show which record changed when it no longer is.

// LeavesSuffix names the leaves file: the head's file name and this.
const LeavesSuffix = ".leaves"

// leavesMagic starts a leaves file; the base (decimal) and a newline
// follow, then the 32-byte leaf hashes of records base+1, base+2, ….
const leavesMagic = "tokenledger tree leaves v1\n"

// ErrMalformedLeaves: a leaves file that is not one.
var ErrMalformedLeaves = errors.New("integrity: malformed tree-head leaves file")

// TailLeaves are the leaf hashes of records Base+1 … Base+len(Leaves).
type TailLeaves struct {
	Base   int64
	Leaves []tlog.Hash
}

// LeavesHeader is the start of a leaves file whose first leaf is record
// base+1; the leaves follow as raw 32-byte hashes.
func LeavesHeader(base int64) []byte {
	return append(strconv.AppendInt([]byte(leavesMagic), base, 10), '\n')
}

// AppendLeafBytes appends the leaves' raw bytes to b.
func AppendLeafBytes(b []byte, leaves ...tlog.Hash) []byte {
	for _, l := range leaves {
		b = append(b, l[:]...)
	}
	return b
}

// ParseLeaves reads a leaves file. A trailing partial hash (a write cut
// short) is ignored.
func ParseLeaves(b []byte) (TailLeaves, error) {
	rest, ok := bytes.CutPrefix(b, []byte(leavesMagic))
	if !ok {
		return TailLeaves{}, fmt.Errorf("%w: no header", ErrMalformedLeaves)
	}
	i := bytes.IndexByte(rest, '\n')
	if i < 0 {
		return TailLeaves{}, fmt.Errorf("%w: no base", ErrMalformedLeaves)
	}
	base, err := strconv.ParseInt(string(rest[:i]), 10, 64)
	if err != nil || base < 0 {
		return TailLeaves{}, fmt.Errorf("%w: base %q", ErrMalformedLeaves, rest[:i])
	}
	rest = rest[i+1:]
	t := TailLeaves{Base: base, Leaves: make([]tlog.Hash, len(rest)/tlog.HashSize)}
	for j := range t.Leaves {
		copy(t.Leaves[j][:], rest[j*tlog.HashSize:])
	}
	return t, nil
}

// prefix is a copy of the tree of the first n records (n <= t.Size()):
// tlog stores a tree's hashes in the order it appends them, so they are
// the first StoredHashCount(n) of t's.
func (t *Tree) prefix(n int64) *Tree {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return &Tree{n: n, hashes: slices.Clone(t.hashes[:tlog.StoredHashCount(n)])}
}

// CheckHead checks that the records in tree extend the signed tree head
// (head: its checkpoint, opened with the ledger's keys). nil means they
// do. Otherwise the finding names the first record that differs when the
// leaves (may be nil) are the ones the head signs (their root, on top of
// the stream's first Base records, is the head's root): a record missing
// at the end (truncation), removed with the later ones renumbered
// (deletion), one more (insertion), two swapped (reorder), or different
// bytes (byte-edit). Without such leaves it names the first record after
// proven (the largest size a checkpoint proved; truncation when the
// stream is shorter, altered otherwise). what names the head in details.
func CheckHead(tree *Tree, head Checkpoint, leaves *TailLeaves, proven int64, what string) *Finding {
	n := tree.Size()
	if head.Size <= n {
		if root, err := tree.Root(head.Size); err == nil && root == head.Root {
			return nil
		}
	}
	if f := locate(tree, head, leaves, what); f != nil {
		return f
	}
	if head.Size > n {
		return &Finding{Seq: uint64(n) + 1, Kind: KindTruncation,
			Detail: fmt.Sprintf("%s signs %d records, the stream ends at %d", what, head.Size, n)}
	}
	proven = min(max(proven, 0), head.Size-1)
	return &Finding{Seq: uint64(proven) + 1, Kind: KindAltered,
		Detail: fmt.Sprintf("records %d to %d do not hash to the root %s signs", proven+1, head.Size, what)}
}

// LocateInHead is CheckHead without the fallback: nil unless the leaves
// are the head's and a record differs from them. Its finding is then
// exact: the records before it are the ones the head signs.
func LocateInHead(tree *Tree, head Checkpoint, leaves *TailLeaves, what string) *Finding {
	return locate(tree, head, leaves, what)
}

// locate finds the first record that differs from the head's leaves, when
// the leaves are the head's.
func locate(tree *Tree, head Checkpoint, leaves *TailLeaves, what string) *Finding {
	n := tree.Size()
	if leaves == nil || leaves.Base > n || leaves.Base > head.Size || leaves.Base+int64(len(leaves.Leaves)) < head.Size {
		return nil
	}
	signed := leaves.Leaves[:head.Size-leaves.Base]
	t := tree.prefix(leaves.Base)
	for _, l := range signed {
		t.appendLocked(l)
	}
	if root, err := t.Root(head.Size); err != nil || root != head.Root {
		return nil // not the head's leaves, or the records before them changed
	}
	stream := func(seq int64) (tlog.Hash, bool) {
		if seq > n {
			return tlog.Hash{}, false
		}
		h, err := tree.LeafHash(uint64(seq))
		return h, err == nil
	}
	for i, want := range signed {
		seq := leaves.Base + 1 + int64(i)
		got, ok := stream(seq)
		if ok && got == want {
			continue
		}
		if !ok {
			return &Finding{Seq: uint64(seq), Kind: KindTruncation,
				Detail: fmt.Sprintf("%s signs %d records, the stream ends at %d: records %d to %d are gone", what, head.Size, n, seq, head.Size)}
		}
		later := slices.Index(signed[i+1:], got) // the stream's record was signed further on
		moved := -1                              // the signed record stands further on in the stream
		for s := seq + 1; s <= n; s++ {
			if h, _ := stream(s); h == want {
				moved = int(s - seq)
				break
			}
		}
		switch {
		case later >= 0 && moved >= 0:
			return &Finding{Seq: uint64(seq), Kind: KindReorder,
				Detail: fmt.Sprintf("the record %s signs at sequence %d stands at %d, and the record at %d at %d", what, seq, seq+int64(moved), seq, seq+int64(later)+1)}
		case later >= 0:
			return &Finding{Seq: uint64(seq), Kind: KindDeletion,
				Detail: fmt.Sprintf("%s signs %d more record(s) at sequence %d: removed, the records after renumbered", what, later+1, seq)}
		case moved >= 0:
			return &Finding{Seq: uint64(seq), Kind: KindInsertion,
				Detail: fmt.Sprintf("%d record(s) %s does not sign stand at sequence %d", moved, what, seq)}
		}
		return &Finding{Seq: uint64(seq), Kind: KindByteEdit,
			Detail: fmt.Sprintf("the record at sequence %d is not the one %s signs", seq, what)}
	}
	return nil
}
