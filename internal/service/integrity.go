package service

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// newCheckpoints builds the checkpointer with the ledger key setUpSigning
// loaded. The checkpoint kept beside the data dir, the signed tree head,
// exists with the embedded server, and with an external cluster (whose
// data dir is not ours) when --tree-head names its file.
func (m *Main) newCheckpoints() error {
	keep := m.keptHeadFile()
	c, err := newCheckpoints(m.log, m.Store, m.Runner, m.Integrity, m.key, m.Config.CheckpointEvery, m.Config.CheckpointInterval, keep, m.Config.Now)
	if err != nil {
		return err
	}
	if keep != "" && !m.Config.noTreeHead {
		c.head = newTreeHead(m.log, m.Runner, m.Integrity, m.key, keep)
	}
	m.checkpoints = c
	return nil
}

// keptHeadFile is the file the signed tree head (or checkpoint) is kept
// in beside the data dir: --tree-head, else the default one when the
// ledger runs its own NATS server; "" for none.
func (m *Main) keptHeadFile() string {
	if m.Config.TreeHead == "" && m.nats != nil {
		return defaultKeptCheckpoint(m.Config.DataDir)
	}
	return m.Config.TreeHead
}

// learnRotatedKeys lets the checkpointer accept checkpoints signed by the
// ledger's earlier keys (the stream's last one, the one kept beside the
// data dir, written before a rotation). It runs after the replay, when the
// key chain checked every key.rotated event, so the keys they name are the
// ledger's own.
func (m *Main) learnRotatedKeys(ctx context.Context) error {
	rotations, err := m.Store.Load(ctx, events.KindLog, events.KeyAggregate)
	if err != nil {
		return fmt.Errorf("read the key rotations: %w", err)
	}
	keys, err := rotatedKeys(m.key.VerifierKey(), rotations)
	if err != nil {
		return err
	}
	m.checkpoints.keys = keys
	return nil
}

// rotatedKeys are the verifiers of vkey (the key file's) and of the keys
// the rotations retired: the keys a checkpoint or tree head of this ledger
// may be signed by, once a replay checked the rotations.
func rotatedKeys(vkey string, rotations []events.Envelope) (note.Verifiers, error) {
	vkeys := []string{vkey}
	for _, e := range rotations {
		if p, err := e.Payload(); err == nil {
			if r, ok := p.(events.KeyRotated); ok {
				vkeys = append(vkeys, r.Previous)
			}
		}
	}
	keys, err := integrity.Verifiers(vkeys...)
	if err != nil {
		return nil, fmt.Errorf("the keys of the key rotations: %w", err)
	}
	return keys, nil
}

// trustedCheckpoint is the stream's last checkpoint as trustLastCheckpoint
// found it before the replay: its note verified with the ledger's key, so
// the events it covers (sequences 1 to seq-1) are authentic in bulk once
// the integrity projection recomputed their root and found it equal, which
// it does when it applies the checkpoint at seq (or stops the projections).
// seq is 0 when there is none.
type trustedCheckpoint struct{ seq uint64 }

// trustLastCheckpoint applies the cost rule of the integrity contract: the
// events covered by the stream's last checkpoint skip their per-event
// Ed25519 check during the replay (chain.TrustThrough), when the
// checkpoint's note is signed by the ledger's own key (a key only the
// ledger holds; keys named by key.rotated events are not yet verified
// here) and sits where an honest checkpoint sits (size = its sequence - 1).
// The root is checked by the integrity projection at the checkpoint's
// sequence, before the replay ends: a rewritten event among those covered
// changes the root, the projections stop with ErrTampered, and the service
// never becomes ready. Anything else (no checkpoint, another key, a note
// that does not verify) leaves every event to its per-event check.
func (m *Main) trustLastCheckpoint(ctx context.Context, chain *ledgerkey.Chain) (trustedCheckpoint, error) {
	seq, err := m.Store.LastSequenceOn(ctx, events.AggregateFilter(events.KindLog, events.CheckpointAggregate))
	if err != nil {
		return trustedCheckpoint{}, fmt.Errorf("find the last checkpoint: %w", err)
	}
	if seq == 0 {
		return trustedCheckpoint{}, nil
	}
	envs, err := m.Store.Events(ctx, []uint64{seq})
	if err != nil || len(envs) != 1 || envs[0].Type != events.TypeCheckpoint {
		return trustedCheckpoint{}, nil // the replay reads it again and judges it
	}
	p, err := envs[0].Payload()
	if err != nil {
		return trustedCheckpoint{}, nil
	}
	c := p.(events.Checkpoint)
	keys, err := integrity.Verifiers(m.key.VerifierKey())
	if err != nil {
		return trustedCheckpoint{}, err
	}
	cp, err := integrity.OpenCheckpoint([]byte(c.Note), keys)
	if err != nil || cp.Size != c.Size || base64.StdEncoding.EncodeToString(cp.Root[:]) != c.Root ||
		cp.Size < 1 || uint64(cp.Size) != seq-1 {
		m.log.Info("replay checks every event's signature: the stream's last checkpoint is not one this key signed where it stands",
			"checkpoint_seq", seq)
		return trustedCheckpoint{}, nil
	}
	chain.TrustThrough(uint64(cp.Size))
	m.log.Info("replay trusts the events the last signed checkpoint covers once their root matches it",
		"checkpoint_seq", seq, "covered", cp.Size)
	return trustedCheckpoint{seq: seq}, nil
}

// waitFor wraps the runner's WaitFor for the readers' feed: an event the
// checkpoint covers is published only once the checkpoint itself was
// applied, i.e. once the root of every covered event matched it.
func (t trustedCheckpoint) waitFor(wait func(context.Context, uint64) error) func(context.Context, uint64) error {
	if t.seq == 0 {
		return wait
	}
	return func(ctx context.Context, seq uint64) error {
		if seq < t.seq {
			seq = t.seq
		}
		return wait(ctx, seq)
	}
}

// finalCheckpoint appends a checkpoint of everything stored, on graceful
// shutdown: the last event of a cleanly stopped ledger is a checkpoint.
func (m *Main) finalCheckpoint() {
	if m.checkpoints == nil || m.api == nil || m.Runner == nil || m.Runner.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.checkpoints.checkpoint(ctx); err != nil {
		m.log.Warn("no checkpoint at shutdown", "err", err)
	}
}

// VerifierKey is the ledger's public verifier key ("" before Run): what
// auditors keep.
func (m *Main) VerifierKey() string {
	if m.checkpoints == nil {
		return ""
	}
	return m.checkpoints.VerifierKey()
}
