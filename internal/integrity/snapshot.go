package integrity

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// snapshotVersion names the encoding of Log.AppendSnapshot.
const snapshotVersion = 1

// AppendSnapshot appends the integrity projection's state at
// [Log.LastApplied] to b: the tree's stored hashes (tlog's storage order,
// 32 bytes each) and the last checkpoint event applied (its hash,
// sequence and signed note). [Log.RestoreSnapshot] reads it back. The
// encoding is not authenticated: whoever stores it must.
func (l *Log) AppendSnapshot(b []byte) []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	l.tree.mu.RLock()
	defer l.tree.mu.RUnlock()
	b = binary.AppendUvarint(b, snapshotVersion)
	b = binary.AppendUvarint(b, l.last)
	b = binary.AppendUvarint(b, uint64(l.tree.n))
	b = binary.AppendUvarint(b, uint64(len(l.tree.hashes)))
	for i := range l.tree.hashes {
		b = append(b, l.tree.hashes[i][:]...)
	}
	b = binary.AppendUvarint(b, l.cpSeq)
	b = binary.AppendUvarint(b, uint64(len(l.cpHash)))
	b = append(b, l.cpHash...)
	b = binary.AppendUvarint(b, uint64(len(l.cpNote)))
	return append(b, l.cpNote...)
}

// RestoreSnapshot loads what [Log.AppendSnapshot] wrote into l, which must
// be empty (new). The tree's hashes are taken as written (the snapshot
// file that carries them is authenticated, and the caller checks the
// leaf at LastApplied against the stream); their count must be what a
// tree of that size stores. On error l is left empty.
func (l *Log) RestoreSnapshot(b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tree.mu.Lock()
	defer l.tree.mu.Unlock()
	if l.last != 0 || l.tree.n != 0 {
		return errors.New("integrity: restore a snapshot into a log that applied events")
	}
	if err := l.restore(b); err != nil {
		l.last, l.cpHash, l.cpSeq, l.cp, l.cpNote = 0, "", 0, Checkpoint{}, nil
		l.tree.n, l.tree.hashes = 0, nil
		return fmt.Errorf("integrity: restore snapshot: %w", err)
	}
	return nil
}

func (l *Log) restore(b []byte) error {
	errCorrupt := errors.New("corrupt snapshot")
	next := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	bytesOf := func(n uint64) []byte {
		if n > uint64(len(b)) {
			b = nil
			return nil
		}
		out := b[:n:n]
		b = b[n:]
		return out
	}
	if v := next(); v != snapshotVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", errCorrupt, v, snapshotVersion)
	}
	last, n, count := next(), next(), next()
	if b == nil || n != last || n > 1<<40 || count != uint64(tlog.StoredHashCount(int64(n))) || count > uint64(len(b))/tlog.HashSize {
		return fmt.Errorf("%w: %d stored hashes for %d records up to %d", errCorrupt, count, n, last)
	}
	raw := bytesOf(count * tlog.HashSize)
	hashes := make([]tlog.Hash, count)
	for i := range hashes {
		copy(hashes[i][:], raw[i*tlog.HashSize:])
	}
	cpSeq := next()
	cpHash := string(bytesOf(next()))
	cpNote := append([]byte(nil), bytesOf(next())...) // not the input's memory
	if b == nil || len(b) != 0 || cpSeq > last || (cpSeq == 0) != (len(cpNote) == 0) {
		return fmt.Errorf("%w: the last checkpoint (at %d of %d) does not decode", errCorrupt, cpSeq, last)
	}
	var cp Checkpoint
	if cpSeq != 0 {
		text, err := noteText(cpNote)
		if err != nil {
			return fmt.Errorf("%w: the last checkpoint: %v", errCorrupt, err)
		}
		if cp, err = ParseCheckpoint(text); err != nil || cp.Size != int64(cpSeq)-1 {
			return fmt.Errorf("%w: the last checkpoint at %d: %v", errCorrupt, cpSeq, err)
		}
	}
	l.tree.n, l.tree.hashes = int64(n), hashes
	l.last, l.cpHash, l.cpSeq, l.cp, l.cpNote = last, cpHash, cpSeq, cp, cpNote
	if cpSeq != 0 {
		root, err := tlog.TreeHash(cp.Size, storage{l.tree})
		if err != nil || root != cp.Root {
			return fmt.Errorf("%w: the tree does not hash to the root of its last checkpoint", errCorrupt)
		}
	}
	return nil
}
