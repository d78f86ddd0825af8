package integrity

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"github.com/tokenledger/tokenledger/events"
)

// ErrTampered is wrapped by the errors [Log.Apply] returns for a stream
// that is not what the ledger wrote: the projections stop (fail closed).
var ErrTampered = errors.New("integrity: the stream is not what the ledger wrote")

// Log is the integrity projection: the Merkle tree over every stream
// message, fed in order by the projections' runner from each event's
// stored bytes, and what the checkpointer needs to chain the next
// checkpoint. It checks, as events arrive, that sequences are contiguous
// and that every log.checkpoint event signs the tree as it is (size =
// its sequence - 1, the same root); any other state stops it. It is safe
// for concurrent use.
type Log struct {
	tree *Tree

	mu     sync.RWMutex
	last   uint64 // sequence of the last record in the tree
	cpHash string // hash of the last log.checkpoint event
	cpSeq  uint64
	cp     Checkpoint
	cpNote []byte
}

// NewLog returns an empty integrity projection.
func NewLog() *Log { return &Log{tree: NewTree()} }

// Tree is the Merkle tree the Log keeps.
func (l *Log) Tree() *Tree { return l.tree }

// LastApplied implements projections.Projection.
func (l *Log) LastApplied() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.last
}

// Apply implements projections.Projection: it appends the event's stored
// bytes as the next leaf.
func (l *Log) Apply(env events.Envelope) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	seq := env.Sequence
	switch {
	case seq <= l.last:
		return nil
	case seq != l.last+1:
		return fmt.Errorf("%w: sequences %d to %d are missing", ErrTampered, l.last+1, seq-1)
	case env.Stored() == nil:
		return fmt.Errorf("integrity: apply seq %d: the event carries no stored bytes", seq)
	}
	if env.Type == events.TypeCheckpoint {
		if err := l.checkCheckpoint(&env); err != nil {
			return err
		}
	}
	if err := l.tree.AppendHash(leafOf(&env)); err != nil {
		return err
	}
	l.last = seq
	return nil
}

// checkCheckpoint checks a log.checkpoint event against the tree before
// it is appended: an honest one signs every record before it.
func (l *Log) checkCheckpoint(env *events.Envelope) error {
	p, err := env.Payload()
	c, ok := p.(events.Checkpoint)
	if err != nil || !ok {
		return fmt.Errorf("%w: checkpoint event at sequence %d does not decode: %v", ErrTampered, env.Sequence, err)
	}
	if c.Size != int64(env.Sequence)-1 {
		return fmt.Errorf("%w: the checkpoint at sequence %d signs %d records, %d precede it", ErrTampered, env.Sequence, c.Size, env.Sequence-1)
	}
	root, err := l.tree.Root(c.Size)
	if err != nil {
		return err
	}
	if base64.StdEncoding.EncodeToString(root[:]) != c.Root {
		return fmt.Errorf("%w: records 1 to %d do not hash to the root the checkpoint at sequence %d signs", ErrTampered, c.Size, env.Sequence)
	}
	text, err := noteText([]byte(c.Note))
	if err != nil {
		return fmt.Errorf("%w: checkpoint at sequence %d: %v", ErrTampered, env.Sequence, err)
	}
	cp, err := ParseCheckpoint(text)
	if err != nil || cp.Size != c.Size || cp.Root != root {
		return fmt.Errorf("%w: the note of the checkpoint at sequence %d does not sign its size and root", ErrTampered, env.Sequence)
	}
	l.cpHash, l.cpSeq, l.cp, l.cpNote = env.Hash, env.Sequence, cp, []byte(c.Note)
	return nil
}

// noteText is the text of a signed note (before the blank line that
// starts its signatures), without checking the signatures.
func noteText(msg []byte) (string, error) {
	s := string(msg)
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\n' && s[i+1] == '\n' {
			return s[:i+1], nil
		}
	}
	return "", errors.New("not a signed note")
}

// LastCheckpoint is the newest log.checkpoint event applied: its hash
// (the next one's prev), its sequence, its checkpoint and signed note
// (zero values before the first).
func (l *Log) LastCheckpoint() (hash string, seq uint64, cp Checkpoint, signed []byte) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cpHash, l.cpSeq, l.cp, l.cpNote
}
