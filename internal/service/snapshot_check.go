package service

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// checkRecords reads every stored record 1..seq raw (one ordered
// consumer, the fastest read of a dense run) and checks that each is the
// leaf tree holds for it and is stored under its event's subject. Reading
// it beside the projections' decoding was measured and not kept: the read
// alone keeps both cores busy (the client and nats-server), and at a
// million events the two orders cost the same wall time.
func checkRecords(ctx context.Context, store *jsstore.Store, seq uint64, tree *integrity.Tree) error {
	h := sha256.New()
	next := uint64(1)
	err := store.RecordRange(ctx, 1, seq, func(sq uint64, subject string, data []byte) error {
		if sq != next {
			return &recordMismatch{Seq: next, Detail: fmt.Sprintf("sequence %d is missing", next)}
		}
		next++
		if want, err := tree.LeafHash(sq); err != nil || recordHash(h, data) != want {
			return &recordMismatch{Seq: sq, Detail: fmt.Sprintf("the record at sequence %d is not the one the snapshot's tree holds", sq)}
		}
		// The tree covers the bytes, not the subject: a record moved to
		// another subject is a byte edit of the stored record too.
		if f := misfiledRecord(sq, subject, data); f != nil {
			return &recordMismatch{Seq: sq, Detail: f.Detail}
		}
		return nil
	})
	if err == nil && next != seq+1 {
		err = &recordMismatch{Seq: next, Detail: fmt.Sprintf("the stream holds records up to %d, the snapshot %d", next-1, seq)}
	}
	return err
}

// recordMismatch is checkRecords' finding: the first sequence whose stored
// record is not the one the tree holds (or is missing, or misfiled).
type recordMismatch struct {
	Seq    uint64
	Detail string
}

func (e *recordMismatch) Error() string { return e.Detail }

// recordHash is tlog.RecordHash(data) (SHA-256 of a zero byte and data)
// with h reused: no allocation per record.
func recordHash(h hash.Hash, data []byte) (out tlog.Hash) {
	h.Reset()
	h.Write([]byte{0})
	h.Write(data)
	h.Sum(out[:0])
	return out
}
