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

// recordCheck reads every stored record 1..seq raw (one ordered consumer)
// on a goroutine of its own while the snapshot's projections are decoded
// on the caller's, so that a start from a snapshot costs about the longer
// of the two on two cores rather than their sum. It keeps each record's
// leaf hash (32 bytes a record, compared with the restored tree at the
// end) and checks each record's subject as it reads.
type recordCheck struct {
	seq    uint64
	leaves []tlog.Hash
	cancel context.CancelFunc
	done   chan struct{}
	err    error // the read's, once done is closed
}

// serialRecordCheck makes the check read the stream after the decoding,
// as before it ran beside it: BenchmarkServiceRestart compares the two.
var serialRecordCheck bool

// startRecordCheck starts reading records 1..seq of store; call stop when
// done with it.
func startRecordCheck(ctx context.Context, store *jsstore.Store, seq uint64) *recordCheck {
	ctx, cancel := context.WithCancel(ctx)
	c := &recordCheck{seq: seq, leaves: make([]tlog.Hash, 0, seq), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.err = c.read(ctx, store)
	}()
	return c
}

// stop ends the read if it still runs, and waits for it.
func (c *recordCheck) stop() {
	c.cancel()
	<-c.done
}

func (c *recordCheck) read(ctx context.Context, store *jsstore.Store) error {
	h := sha256.New()
	err := store.RecordRange(ctx, 1, c.seq, func(sq uint64, subject string, data []byte) error {
		if sq != uint64(len(c.leaves))+1 {
			return fmt.Errorf("sequence %d is missing", len(c.leaves)+1)
		}
		c.leaves = append(c.leaves, recordHash(h, data))
		// The tree covers the bytes, not the subject: a record moved to
		// another subject is a byte edit of the stored record too.
		if f := misfiledRecord(sq, subject, data); f != nil {
			return fmt.Errorf("%s", f.Detail)
		}
		return nil
	})
	if err == nil && uint64(len(c.leaves)) != c.seq {
		err = fmt.Errorf("the stream holds records up to %d, the snapshot %d", len(c.leaves), c.seq)
	}
	return err
}

// wait waits for the read and compares every record's leaf hash with the
// one tree holds for it.
func (c *recordCheck) wait(tree *integrity.Tree) error {
	<-c.done
	if c.err != nil {
		return c.err
	}
	for i, got := range c.leaves {
		sq := uint64(i) + 1
		if want, err := tree.LeafHash(sq); err != nil || got != want {
			return fmt.Errorf("the record at sequence %d is not the one the snapshot's tree holds", sq)
		}
	}
	return nil
}

// recordHash is tlog.RecordHash(data) (SHA-256 of a zero byte and data)
// with h reused: no allocation per record.
func recordHash(h hash.Hash, data []byte) (out tlog.Hash) {
	h.Reset()
	h.Write([]byte{0})
	h.Write(data)
	h.Sum(out[:0])
	return out
}
