package service_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// --adopt-key-history is meant for one start (a ledger rotated by a
// version before key histories), but nothing binds it to the stream the
// operator checked: a flag left in the service's command line (a unit
// file, a compose file) adopts whatever stream the next start without a
// key history finds. An attacker who can write the data dir and its parent
// removes the key history, the kept tree head and the snapshot, replaces
// the stream by an admin token.created signed by a key of their own and a
// key.rotated from it to the ledger's key: the lingering flag adopts the
// attacker's key as the ledger's first one, and the planted admin token
// authenticates.
func TestALingeringAdoptKeyHistoryFlagNeverAdoptsAPlantedKey(t *testing.T) {
	t.Skip("known defect (atk-r24): --adopt-key-history is a bool; a lingering flag adopts a planted key chain after the history is removed. " +
		"Fix idea: make it --adopt-key-history=<verifier keys>, the keys the operator checked, and adopt only a stream whose rotations name no other key")
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
	forgedSubj, forged := forgeAdminToken(t, other, mallory)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	dir, _, keys := startRotated(t, 0)
	keyFile := ledgerkey.DefaultFile(dir)

	if err := os.Remove(ledgerkey.HistoryFile(keyFile)); err != nil {
		t.Fatal(err)
	}
	wipeBesideDataDir(t, dir)
	createStreamOffline(t, dir)
	publishOffline(t, dir, forgedSubj, forged)
	rotSubj, rot := signedRotation(t, mallory, mallory.VerifierKey(), keys[0].VerifierKey())
	publishOffline(t, dir, rotSubj, rot)

	cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
	cfg.AdoptKeyHistory = true // left on the command line since the one start that needed it
	m := service.NewMain(cfg)
	defer func() { _ = m.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	runErr := m.Run(ctx)
	cancel()
	if runErr == nil {
		for deadline := time.Now().Add(3 * time.Second); m.Runner.Err() == nil && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
		}
		runErr = m.Runner.Err()
	}
	t.Logf("start: %v", runErr)
	if m.Tokens != nil {
		if _, ok := m.Tokens.Lookup(forgedAdminSecret); ok {
			t.Errorf("the planted admin token, signed by a key the lingering flag adopted, reached the token set")
		}
	}
	if runErr == nil {
		t.Errorf("the start served a stream whose first signed key is the attacker's")
	}
}
