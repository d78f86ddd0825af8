package integrity

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// BytesPerRecord is the memory a [Tree] holds per record: tlog stores
// about two hashes of 32 bytes per leaf (the leaf and, amortised, one
// interior node).
const BytesPerRecord = 2 * tlog.HashSize

// ErrSize is returned for a tree size or record index outside the tree.
var ErrSize = errors.New("integrity: size out of range")

// Tree is the Merkle tree over records 1, 2, 3, … (stream sequences),
// kept as tlog's stored hashes in memory ([BytesPerRecord] a record). It
// answers the root at any size it holds, inclusion proofs and consistency
// proofs. A Tree is safe for concurrent use: one writer appends while
// readers ask for roots and proofs.
type Tree struct {
	mu     sync.RWMutex
	n      int64       // records appended
	hashes []tlog.Hash // tlog's stored hashes, in tlog's storage order
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{} }

// storage reads t.hashes without locking; callers hold t.mu.
type storage struct{ t *Tree }

func (s storage) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s.t.hashes)) {
			return nil, fmt.Errorf("%w: stored hash %d of %d", ErrSize, x, len(s.t.hashes))
		}
		out[i] = s.t.hashes[x]
	}
	return out, nil
}

// Size is the number of records in the tree: the sequence of the last
// record appended.
func (t *Tree) Size() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.n
}

// Append adds the next record (sequence Size()+1) with its data bytes
// exactly as stored.
func (t *Tree) Append(data []byte) error {
	return t.AppendHash(recordHash(data))
}

// leafDigest is a SHA-256 digest with the buffers recordHash gives it
// (through an interface, a byte slice on the stack would escape: two
// allocations per record).
type leafDigest struct {
	h      hash.Hash
	prefix [1]byte // RFC 6962's leaf prefix, 0x00
	sum    []byte
}

// leafHashers lends leafDigests to recordHash.
var leafHashers = sync.Pool{New: func() any {
	return &leafDigest{h: sha256.New(), sum: make([]byte, 0, sha256.Size)}
}}

// recordHash is tlog.RecordHash(data), SHA-256(0x00 || data), with a
// pooled digest instead of a new one per record; it allocates nothing.
func recordHash(data []byte) tlog.Hash {
	d := leafHashers.Get().(*leafDigest)
	out := d.hash(data)
	leafHashers.Put(d)
	return out
}

// hash is tlog.RecordHash(data) with d's digest and buffers.
func (d *leafDigest) hash(data []byte) tlog.Hash {
	d.h.Reset()
	d.h.Write(d.prefix[:])
	d.h.Write(data)
	d.sum = d.h.Sum(d.sum[:0])
	var out tlog.Hash
	copy(out[:], d.sum)
	return out
}

// AppendHash adds the next record by its leaf hash (tlog.RecordHash of
// its data).
func (t *Tree) AppendHash(leaf tlog.Hash) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.appendLocked(leaf)
	return nil
}

// appendLocked stores leaf as record t.n and the hashes of the subtrees
// it completes: what tlog.StoredHashesForRecordHash returns, without its
// two allocations per record (TestTreeStoresWhatTlogStores keeps them
// equal). Each trailing 1 bit of n completes a subtree whose left half is
// stored at level i, index n>>i - 1.
func (t *Tree) appendLocked(leaf tlog.Hash) {
	n := t.n
	t.hashes = append(t.hashes, leaf)
	h := leaf
	for i := 0; (n>>i)&1 == 1; i++ {
		h = tlog.NodeHash(t.hashes[tlog.StoredHashIndex(i, n>>i-1)], h)
		t.hashes = append(t.hashes, h)
	}
	t.n++
}

// Grow makes room for n more records without reallocating.
func (t *Tree) Grow(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hashes = slices.Grow(t.hashes, 2*n+64)
}

// Root is the tree hash of the first n records; the root of the empty
// tree is the SHA-256 of nothing, as RFC 6962 says.
func (t *Tree) Root(n int64) (tlog.Hash, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if n < 0 || n > t.n {
		return tlog.Hash{}, fmt.Errorf("%w: root of %d records, the tree holds %d", ErrSize, n, t.n)
	}
	if n == 0 {
		return emptyRoot, nil
	}
	h, err := tlog.TreeHash(n, storage{t})
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("integrity: root of %d records: %w", n, err)
	}
	return h, nil
}

// InclusionProof proves that the record at seq (1-based) is in the tree
// of the first size records.
func (t *Tree) InclusionProof(seq uint64, size int64) (tlog.RecordProof, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if size < 1 || size > t.n || seq < 1 || seq > uint64(size) {
		return nil, fmt.Errorf("%w: record %d in a tree of %d (the tree holds %d)", ErrSize, seq, size, t.n)
	}
	p, err := tlog.ProveRecord(size, int64(seq-1), storage{t})
	if err != nil {
		return nil, fmt.Errorf("integrity: prove record %d in %d: %w", seq, size, err)
	}
	return p, nil
}

// ConsistencyProof proves that the tree of the first from records is a
// prefix of the tree of the first to records (1 ≤ from ≤ to ≤ Size()).
func (t *Tree) ConsistencyProof(from, to int64) (tlog.TreeProof, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if from < 1 || from > to || to > t.n {
		return nil, fmt.Errorf("%w: consistency of %d with %d (the tree holds %d)", ErrSize, from, to, t.n)
	}
	p, err := tlog.ProveTree(to, from, storage{t})
	if err != nil {
		return nil, fmt.Errorf("integrity: prove %d in %d: %w", from, to, err)
	}
	return p, nil
}

// emptyRoot is RFC 6962's hash of the empty tree: SHA-256 of no bytes.
var emptyRoot = tlog.Hash{0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55}

// CheckInclusion verifies an inclusion proof: the record whose data hashes
// to leaf sits at seq in the tree of size records with root.
func CheckInclusion(p tlog.RecordProof, size int64, root tlog.Hash, seq uint64, leaf tlog.Hash) error {
	if seq < 1 || seq > uint64(size) {
		return fmt.Errorf("%w: record %d in a tree of %d", ErrSize, seq, size)
	}
	if err := tlog.CheckRecord(p, size, root, int64(seq-1), leaf); err != nil {
		return fmt.Errorf("integrity: record %d in tree %d: %w", seq, size, err)
	}
	return nil
}

// CheckConsistency verifies a consistency proof: the tree of from records
// with root fromRoot is a prefix of the tree of to records with toRoot.
func CheckConsistency(p tlog.TreeProof, to int64, toRoot tlog.Hash, from int64, fromRoot tlog.Hash) error {
	if from < 1 || from > to {
		return fmt.Errorf("%w: consistency of %d with %d", ErrSize, from, to)
	}
	if err := tlog.CheckTree(p, to, toRoot, from, fromRoot); err != nil {
		return fmt.Errorf("integrity: tree %d in tree %d: %w", from, to, err)
	}
	return nil
}

// LeafHash is the leaf hash of the record at seq (1-based).
func (t *Tree) LeafHash(seq uint64) (tlog.Hash, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if seq < 1 || seq > uint64(t.n) {
		return tlog.Hash{}, fmt.Errorf("%w: record %d of %d", ErrSize, seq, t.n)
	}
	return t.hashes[tlog.StoredHashIndex(0, int64(seq-1))], nil
}
