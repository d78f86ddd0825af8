package service

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// checkBeforeRotating (atk-r21) replays the stream with every signature
// checked, but the start compares the stream with the signed tree head
// kept beside the data dir only once the projections caught up
// (checkpoints.start), after the rotation. A data dir put back to an older
// copy of itself holds only events the ledger wrote, so the replay accepts
// it; a start without the flag refuses it (the stream does not extend the
// kept head), but with --rotate-signing-key the start chained a
// key.rotated after the older copy's last event and replaced the key file
// before refusing. Restoring the newer data dir from a backup then needs
// the key just overwritten. The start must not rotate on a stream the kept
// head refuses. Found (atk-r23).
func TestTheStartNeverRotatesOnADataDirRolledBackBehindTheKeptTreeHead(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	m, _ := startLedger(t, dir, 4)
	tokenLife(t, m, "kept-in-the-old-copy")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(root, "old")
	copyDir(t, dir, old)
	m, _ = startLedger(t, dir, 4)
	tokenLife(t, m, "only-in-the-newer-stream")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(defaultKeptCheckpoint(dir)); err != nil {
		t.Fatalf("no tree head kept beside the data dir: %v", err)
	}
	// The attacker puts the older copy back (every event in it genuine).
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, old, dir)
	keyFile := ledgerkey.DefaultFile(dir)
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	logs := &lockedBuffer{}
	env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
	cfg := Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: logs, CheckpointEvery: 4, CheckpointInterval: time.Hour,
		RotateSigningKey: true}
	r := NewMain(cfg)
	t.Cleanup(func() { _ = r.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := r.Run(ctx)
	t.Logf("start with --rotate-signing-key on the older copy: %v", runErr)
	if after, _ := os.ReadFile(keyFile); string(after) != string(before) {
		t.Errorf("the start rotated the signing key on a data dir behind the kept tree head: the key file no longer holds the ledger's key\n%s", logs.String())
	}
	if _, err := os.Stat(keyFile + ".next"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.next after the refused start: %v, want none", keyFile, err)
	}
	if r.Store != nil {
		rotations, err := r.Store.Load(ctx, events.KindLog, events.KeyAggregate)
		if err != nil || len(rotations) != 0 {
			t.Errorf("key.rotated events in the older copy after the start: %d (%v), want none", len(rotations), err)
		}
	}
	if runErr == nil || !errors.Is(runErr, integrity.ErrTampered) {
		t.Errorf("start with --rotate-signing-key on a data dir behind the kept tree head = %v, want it refused as tampering (%v)", runErr, integrity.ErrTampered)
	}
}
