package service_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// unwrittenRotation (9fd89bc) only looks at the last key.rotated when it
// does not name the key file's key. A planted last key.rotated naming the
// ledger's key as its new key, signed by (and naming as previous) the
// attacker's key, passes setUpSigning; with --rotate-signing-key the
// ledger then signs a rotation chained after the forged one and replaces
// its key file with a new key before the replay names the forgery. The
// stream must be restored from a backup, and the backup's last key is the
// one the start just overwrote. The start must not rotate past a
// key.rotated the ledger did not write. Found (atk-r21).
func TestTheStartNeverRotatesPastAPlantedRotationNamingTheLedgersKey(t *testing.T) {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := ledgerkey.DefaultFile(dir)
	s := servicetest.Start(t, dir, nil)
	ledgerVKey := s.VerifierKey()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	subj, data := signedRotation(t, mallory, mallory.VerifierKey(), ledgerVKey)
	seq := publishOffline(t, dir, subj, data)

	cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
	cfg.RotateSigningKey = true
	m := service.NewMain(cfg)
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := m.Run(ctx)
	t.Logf("start with --rotate-signing-key after a planted key.rotated at sequence %d: %v", seq, runErr)
	if after, _ := os.ReadFile(keyFile); string(after) != string(before) {
		t.Fatalf("the start rotated the signing key past the planted key.rotated at sequence %d: the key file no longer holds the ledger's key %s", seq, ledgerVKey)
	}
	// Refused as tampering at the planted rotation, before anything was
	// appended (the start's check, not the replay after a rotation).
	if te := events.AsTamper(runErr); te == nil || te.Seq != seq {
		t.Errorf("start with --rotate-signing-key = %v, want a TamperError at sequence %d", runErr, seq)
	}
	if m.Store != nil {
		if last, err := m.Store.LastSequence(ctx); err != nil || last != seq {
			t.Errorf("the stream's last sequence after the start = %d (%v), want %d: nothing appended", last, err, seq)
		}
	}
}

// signedRotation is a key.rotated the ledger never wrote, naming previous
// and next, sealed and signed by signer: its subject and stored bytes.
func signedRotation(t *testing.T, signer *ledgerkey.Key, previous, next string) (string, []byte) {
	t.Helper()
	rot, err := events.New(ulid.Make().String(), events.KeyAggregate,
		events.KeyRotated{Previous: previous, Key: next}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rot.Actor = events.System
	if err := rot.SealFor(signer.ID()); err != nil {
		t.Fatal(err)
	}
	if err := rot.Sign(signer); err != nil {
		t.Fatal(err)
	}
	data, err := events.Marshal(&rot)
	if err != nil {
		t.Fatal(err)
	}
	return rot.Subject(), data
}
