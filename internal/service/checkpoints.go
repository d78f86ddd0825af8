package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/projections"
)

// Checkpoint defaults (--checkpoint-every, --checkpoint-interval).
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = time.Minute
)

// checkpointAttempts bounds the appends of one checkpoint that lose the
// race for the stream's last sequence to other writers.
const checkpointAttempts = 8

// checkpoints appends signed checkpoints of the Merkle tree to the stream
// (every `every` events or `interval`, only when there are new events, and
// on graceful shutdown), keeps the latest beside the data dir, and answers
// the HTTP routes' questions (httpapi.Integrity).
type checkpoints struct {
	log      *slog.Logger
	store    *jsstore.Store
	runner   *projections.Runner
	proj     *integrity.Log
	key      *ledgerkey.Key
	keys     note.Verifiers
	every    uint64
	interval time.Duration
	keep     string // file holding the latest signed checkpoint; "" for none
	// head, when set, keeps a signed tree head of every applied event in
	// keep, which then holds no checkpoint of its own (the head is newer).
	head *treeHead
	now  func() time.Time

	begun   time.Time   // when start ran
	mu      sync.Mutex  // one checkpoint at a time
	started atomic.Bool // start found the stream extends the kept checkpoint
	entropy *ulid.MonotonicEntropy
	latest  atomic.Pointer[signedCheckpoint]
	// resign is set when the stream's last checkpoint is signed by a key
	// the ledger retired (a rotation): it is not served (the routes name
	// the current key), and the next checkpoint is due at once.
	resign atomic.Bool
}

type signedCheckpoint struct {
	cp     integrity.Checkpoint
	signed []byte
	at     time.Time
}

func newCheckpoints(log *slog.Logger, store *jsstore.Store, runner *projections.Runner, proj *integrity.Log, key *ledgerkey.Key,
	every int, interval time.Duration, keep string, now func() time.Time) (*checkpoints, error) {
	keys, err := integrity.Verifiers(key.VerifierKey())
	if err != nil {
		return nil, err
	}
	if every <= 0 {
		every = DefaultCheckpointEvery
	}
	if interval <= 0 {
		interval = DefaultCheckpointInterval
	}
	if now == nil {
		now = time.Now
	}
	return &checkpoints{log: log, store: store, runner: runner, proj: proj, key: key, keys: keys,
		every: uint64(every), interval: interval, keep: keep, now: now, entropy: ulid.Monotonic(rand.Reader, 0)}, nil
}

// start takes the stream's last checkpoint (once the projections caught
// up) as the latest, and checks the stream against the checkpoint kept
// beside the data dir: a stream that does not extend it was truncated or
// rewritten, and the ledger refuses to start.
func (c *checkpoints) start() error {
	_, _, cp, signed := c.proj.LastCheckpoint()
	if signed != nil {
		current, err := integrity.Verifiers(c.key.VerifierKey())
		if err != nil {
			return err
		}
		if _, err := integrity.OpenCheckpoint(signed, current); err == nil {
			c.latest.Store(&signedCheckpoint{cp: cp, signed: signed, at: c.now()})
		} else if _, err := integrity.OpenCheckpoint(signed, c.keys); err == nil {
			// A retired key's (the ledger rotated since): never served
			// under the current key's name; replaced at once.
			c.resign.Store(true)
			c.log.Info("the stream's last checkpoint is signed by a retired ledger key; the next checkpoint, signed by the current key, is appended now")
		} else {
			c.log.Warn("the stream's last checkpoint is not signed by this ledger key; the next checkpoint replaces it", "err", err)
		}
	}
	if err := c.checkKept(); err != nil {
		return err
	}
	c.begun = c.now()
	c.started.Store(true)
	return nil
}

// checkKept checks that the stream extends the signed tree head (or
// checkpoint) kept beside the data dir; the leaves beside it name the
// first record that differs.
func (c *checkpoints) checkKept() error {
	if c.keep == "" {
		return nil
	}
	_, _, cp, _ := c.proj.LastCheckpoint()
	return checkHeadFile(c.proj.Tree(), c.keep, c.keys, cp.Size)
}

// run appends checkpoints until ctx is done.
func (c *checkpoints) run(ctx context.Context) error {
	tick := min(c.interval, 250*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if !c.due() {
			continue
		}
		if err := c.checkpoint(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("checkpoint failed; retrying", "err", err)
		}
	}
}

// due reports whether there are new events and `every` of them, or
// `interval` passed since the latest checkpoint.
func (c *checkpoints) due() bool {
	applied := c.runner.LastApplied()
	if c.resign.Load() {
		_, cpSeq, _, _ := c.proj.LastCheckpoint()
		return applied > cpSeq
	}
	after, since := uint64(0), c.begun // before the first checkpoint: since start
	if l := c.latest.Load(); l != nil {
		after, since = uint64(l.cp.Size)+1, l.at // the checkpoint event itself is not new
	}
	if applied <= after {
		return false
	}
	return applied-after >= c.every || c.now().Sub(since) >= c.interval
}

// checkpoint signs the tree of every stored event and appends it as a
// log.checkpoint event whose append expects the stream's last sequence
// to be the checkpoint's size, so that it sits at size+1. It does nothing
// when no event came after the last checkpoint.
func (c *checkpoints) checkpoint(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started.Load() {
		return errors.New("checkpoint: the stream was not checked against the kept checkpoint")
	}
	for range checkpointAttempts {
		last, err := c.store.LastSequence(ctx)
		if err != nil {
			return err
		}
		if _, cpSeq, _, _ := c.proj.LastCheckpoint(); last == 0 || last == cpSeq {
			return nil // nothing new
		}
		if err := c.runner.WaitFor(ctx, last); err != nil {
			return err
		}
		root, err := c.proj.Tree().Root(int64(last))
		if err != nil {
			return err
		}
		cp := integrity.Checkpoint{Origin: c.key.Signer().Name(), Size: int64(last), Root: root}
		signed, err := integrity.SignCheckpoint(cp, c.key.Signer())
		if err != nil {
			return err
		}
		prev, _, _, _ := c.proj.LastCheckpoint()
		now := c.now()
		id := ulid.MustNew(ulid.Timestamp(now), c.entropy).String()
		env, err := integrity.CheckpointEvent(id, now, cp, signed, prev)
		if err != nil {
			return err
		}
		_, err = c.store.Append(ctx, commands.Append{Event: env, Expected: last, ExpectedFilter: events.SubjectPrefix + ".>", MsgID: id})
		if errors.Is(err, commands.ErrConflict) {
			continue // another event came first: sign the longer tree
		}
		if err != nil {
			return fmt.Errorf("append checkpoint of %d records: %w", last, err)
		}
		c.latest.Store(&signedCheckpoint{cp: cp, signed: signed, at: now})
		c.resign.Store(false)
		if c.head == nil { // else the tree head covers the checkpoint event once it is applied
			if err := c.keepNote(signed); err != nil {
				c.log.Error("could not keep the latest checkpoint beside the data dir", "file", c.keep, "err", err)
			}
		}
		c.log.Debug("checkpoint appended", "size", last, "seq", last+1)
		return nil
	}
	return fmt.Errorf("append checkpoint: %d attempts lost the race for the stream's last sequence", checkpointAttempts)
}

// keepNote writes the latest signed checkpoint beside the data dir
// (atomically: a new file renamed over the old one).
func (c *checkpoints) keepNote(signed []byte) error {
	if c.keep == "" {
		return nil
	}
	return writeBesideFile(c.keep, signed, 0o644)
}

// defaultKeptCheckpoint is <data-dir>.checkpoint: beside the data dir.
func defaultKeptCheckpoint(dataDir string) string {
	return filepath.Clean(dataDir) + ".checkpoint"
}

// newest is the newest signed checkpoint the ledger serves: the stream's
// last checkpoint event, or the signed tree head when it signs more
// records (every applied one: an idle ledger's head also signs the last
// checkpoint event, and an auditor who kept that head, or a checkpoint
// of a busy ledger's events since, is answered with one at least as
// new). Both are signed by the ledger's key over the tree the
// projections built.
func (c *checkpoints) newest() *signedCheckpoint {
	l := c.latest.Load()
	if c.head != nil {
		if h := c.head.served.Load(); h != nil && (l == nil || h.cp.Size > l.cp.Size) {
			return h
		}
	}
	return l
}

// Latest implements httpapi.Integrity: the newest signed checkpoint.
func (c *checkpoints) Latest() (signed []byte, size int64, root tlog.Hash, ok bool) {
	l := c.newest()
	if l == nil {
		return nil, 0, tlog.Hash{}, false
	}
	return bytes.Clone(l.signed), l.cp.Size, l.cp.Root, true
}

// VerifierKey implements httpapi.Integrity.
func (c *checkpoints) VerifierKey() string { return c.key.VerifierKey() }

// Tree implements httpapi.Integrity.
func (c *checkpoints) Tree() *integrity.Tree { return c.proj.Tree() }

// Reach implements httpapi.Integrity: it waits until the projections
// applied size records, when the stream holds them, and, where the
// ledger keeps a signed tree head, until a head covering them is written
// (the newest checkpoint it serves).
func (c *checkpoints) Reach(ctx context.Context, size int64) bool {
	last, err := c.store.LastSequence(ctx)
	if err != nil || size < 1 || uint64(size) > last {
		return false
	}
	if c.runner.WaitFor(ctx, uint64(size)) != nil {
		return false
	}
	if c.head != nil {
		return c.head.WaitFor(ctx, uint64(size)) == nil
	}
	return true
}

// Bundle implements httpapi.Integrity: the records from..to under the
// newest signed checkpoint, read from the stream as stored.
func (c *checkpoints) Bundle(ctx context.Context, from, to uint64, since int64) (*integrity.Bundle, error) {
	l := c.newest()
	if l == nil {
		return nil, fmt.Errorf("%w: no checkpoint yet", integrity.ErrSize)
	}
	if to == 0 {
		to = uint64(l.cp.Size)
		if to >= from && to-from+1 > integrity.MaxBundleEvents {
			// Past the cap since the route checked it: ask again.
			return nil, fmt.Errorf("%w: records %d to %d, more than %d in one bundle", integrity.ErrSize, from, to, integrity.MaxBundleEvents)
		}
	}
	if from < 1 || from > to || to > uint64(l.cp.Size) || (since < 0 || since > l.cp.Size) {
		return nil, fmt.Errorf("%w: records %d to %d (since %d) under the latest checkpoint of %d", integrity.ErrSize, from, to, since, l.cp.Size)
	}
	data := make(map[uint64][]byte, to-from+1)
	err := c.store.ReadStored(ctx, from, to, func(seq uint64, b []byte) error {
		data[seq] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	return integrity.BuildBundle(c.proj.Tree(), l.cp, l.signed, from, to, since, func(seq uint64) ([]byte, error) {
		b, ok := data[seq]
		if !ok {
			return nil, fmt.Errorf("%w: sequence %d is not in the stream", integrity.ErrTampered, seq)
		}
		return b, nil
	})
}
