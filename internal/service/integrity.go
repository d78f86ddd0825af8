package service

import (
	"context"
	"time"
)

// newCheckpoints loads (or makes) the ledger key and builds the
// checkpointer. The checkpoint kept beside the data dir exists only with
// the embedded server (an external cluster's data dir is not ours).
func (m *Main) newCheckpoints() error {
	key, err := loadSigningKey(m.Config.SigningKeyFile, m.Config.DataDir, m.log)
	if err != nil {
		return err
	}
	keep := ""
	if m.nats != nil {
		keep = defaultKeptCheckpoint(m.Config.DataDir)
	}
	c, err := newCheckpoints(m.log, m.Store, m.Runner, m.Integrity, key, m.Config.CheckpointEvery, m.Config.CheckpointInterval, keep, m.Config.Now)
	if err != nil {
		return err
	}
	m.checkpoints = c
	return nil
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
