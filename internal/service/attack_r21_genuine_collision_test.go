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
	"github.com/tokenledger/tokenledger/internal/ledgerkey/keytest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// docs/decisions.md ("A key chain holds at most one key per key ID") says a
// ledger whose genuine keys collide (odds about 2^-32 a pair) "would have
// to rotate once more". rotate() generates the next key without looking at
// the IDs the chain knows, so such a rotation can be written: a key.rotated
// signed by the current key a, naming a as previous, to a new key b that
// shares a's ID, and the key file replaced by b, exactly as rotate leaves
// them. The next start with --rotate-signing-key must then be able to rotate
// once more. Found (atk-r21): it cannot: setUpSigning's probe learns the
// rotations before rotate and names the ledger's own rotation a forgery, and
// chain.Learn would do the same after any further rotation (a and b stay on
// the stream): the genuine ledger can never start again.
func TestAGenuineRotationToAKeySharingItsPredecessorsIDCanRotateOnceMore(t *testing.T) {
	a, b := keytest.CollidingKeys(t, "r21")
	if a.ID() != b.ID() || a.VerifierKey() == b.VerifierKey() {
		t.Fatalf("keytest gave %s and %s: not two keys with one ID", a.ID(), b.ID())
	}
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := ledgerkey.DefaultFile(dir)
	if err := a.WriteNew(keyFile); err != nil {
		t.Fatal(err)
	}
	s := servicetest.Start(t, dir, nil)
	s.CreateToken("backend", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// What rotate() appends when Generate happens to return b: signed by
	// a, naming a as previous, first on the key aggregate.
	rot, err := events.New(ulid.Make().String(), events.KeyAggregate,
		events.KeyRotated{Previous: a.VerifierKey(), Key: b.VerifierKey()}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rot.Actor = events.System
	rot.Via = events.Via{CredentialType: "internal", RequestID: "rotate-signing-key"}
	if err := rot.SealFor(a.ID()); err != nil {
		t.Fatal(err)
	}
	if err := rot.Sign(a); err != nil {
		t.Fatal(err)
	}
	data, err := events.Marshal(&rot)
	if err != nil {
		t.Fatal(err)
	}
	seq := publishOffline(t, dir, rot.Subject(), data)
	// … and the key file replaced by the new key, as rotate's rename does.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteNew(keyFile); err != nil {
		t.Fatal(err)
	}

	logs := &servicetest.LogBuffer{}
	cfg := servicetest.Config(dir, nil, logs)
	cfg.RotateSigningKey = true
	m := service.NewMain(cfg)
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("start with --rotate-signing-key after the genuine rotation at sequence %d to a key sharing its predecessor's ID: %v", seq, err)
	}
}
