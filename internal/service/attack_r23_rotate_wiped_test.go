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

// checkBeforeRotating returns at once on an empty stream ("nothing to
// chain after"), before it compares the stream with the tree head kept
// beside the data dir. An attacker who empties the data dir (the key file
// and the kept head sit beside it and stay) leaves a stream a start
// without the flag refuses (truncated: the head signs records it no
// longer holds); with --rotate-signing-key the start appended key.rotated
// as the new stream's first event and replaced the key file before
// refusing. Found (atk-r23), the empty-stream case of
// TestTheStartNeverRotatesOnADataDirRolledBackBehindTheKeptTreeHead.
func TestTheStartNeverRotatesOnAnEmptiedDataDirBehindTheKeptTreeHead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 4)
	tokenLife(t, m, "gone")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(defaultKeptCheckpoint(dir)); err != nil {
		t.Fatalf("no tree head kept beside the data dir: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	keyFile := ledgerkey.DefaultFile(dir)
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	logs := &lockedBuffer{}
	env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
	r := NewMain(Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: logs, CheckpointEvery: 4, CheckpointInterval: time.Hour,
		RotateSigningKey: true})
	t.Cleanup(func() { _ = r.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := r.Run(ctx)
	t.Logf("start with --rotate-signing-key on the emptied data dir: %v", runErr)
	if after, _ := os.ReadFile(keyFile); string(after) != string(before) {
		t.Errorf("the start rotated the signing key on an emptied data dir behind the kept tree head\n%s", logs.String())
	}
	if _, err := os.Stat(keyFile + ".next"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.next after the refused start: %v, want none", keyFile, err)
	}
	if r.Store != nil {
		if rotations, err := r.Store.Load(ctx, events.KindLog, events.KeyAggregate); err != nil || len(rotations) != 0 {
			t.Errorf("key.rotated events after the start: %d (%v), want none", len(rotations), err)
		}
	}
	if !errors.Is(runErr, integrity.ErrTampered) {
		t.Errorf("start = %v, want it refused as tampering (%v)", runErr, integrity.ErrTampered)
	}
}

// A new ledger's first start may rotate: an empty stream and no kept tree
// head pass the check (the empty-stream case above still refuses a wiped
// data dir only because its head survived).
func TestANewLedgersFirstStartMayRotateItsSigningKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, logs := startLedger(t, dir, 4, func(c *Config) { c.RotateSigningKey = true })
	rotations, err := m.Store.Load(context.Background(), events.KindLog, events.KeyAggregate)
	if err != nil || len(rotations) != 1 || rotations[0].Sequence != 1 {
		t.Fatalf("key.rotated events on the first start: %v (%v), want one at sequence 1\n%s", rotations, err, logs.String())
	}
	tokenLife(t, m, "after")
}
