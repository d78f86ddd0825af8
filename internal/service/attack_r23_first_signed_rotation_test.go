package service_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The key chain lets the stream's first signed event pick any key a
// key.rotated names, so that a ledger started with its newest key file
// still accepts the events its retired keys signed. Before a ledger signed
// anything (a new ledger whose key file was made ahead and whose verifier
// key was handed out; an older ledger's unsigned history before its first
// start with signing) nothing has to be rewritten for that rule to be
// abused: an attacker who can write the data dir plants a token.created of
// an admin token signed by a key of their own, and a key.rotated from that
// key to the ledger's. The start accepts both (a kept tree head, if any, is
// extended, not contradicted), the planted admin token authenticates, and
// --rotate-signing-key chains the ledger's own rotation after the planted
// one. The ledger must not take a signed history it has no proof of
// writing. Found (atk-r23).
//
// Not fixed yet (README Known gaps): the genuine history of a rotated
// ledger (its first signed events by a retired key, the key file holding
// the newest) looks the same to a start that holds only the newest key;
// telling them apart needs proof signed by a key the ledger holds (a
// checkpoint covering the first rotation) or the retired keys. Skipped
// until then.
func TestAPlantedHistoryBeforeTheFirstSignedEventIsNeverAccepted(t *testing.T) {
	t.Skip("known defect (atk-r23): the first signed event may be signed by any key a key.rotated names")
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	// A genuine admin token.created to copy the forged one from.
	other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
	subj, forged := forgeAdminToken(t, other, mallory)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "data")
	keyFile := ledgerkey.DefaultFile(dir)
	key, _, err := ledgerkey.LoadOrGenerate(keyFile, ledgerkey.DefaultName) // made ahead, its verifier key handed out
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	createStreamOffline(t, dir) // the data dir of a ledger that never started
	forgedSeq := publishOffline(t, dir, subj, forged)
	rotSubj, data := signedRotation(t, mallory, mallory.VerifierKey(), key.VerifierKey())
	rotSeq := publishOffline(t, dir, rotSubj, data)
	t.Logf("planted: a token.created signed by another key at %d, key.rotated from it to the ledger's key at %d", forgedSeq, rotSeq)

	cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
	cfg.RotateSigningKey = true
	m := service.NewMain(cfg)
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runErr := m.Run(ctx)
	t.Logf("start with --rotate-signing-key: %v", runErr)
	if after, _ := os.ReadFile(keyFile); string(after) != string(before) {
		t.Errorf("the start rotated the signing key past a history the ledger never signed")
	}
	if m.Tokens != nil {
		if _, ok := m.Tokens.Lookup(forgedAdminSecret); ok {
			t.Errorf("the planted admin token (sequence %d, signed by a key only a planted key.rotated names) reached the token set", forgedSeq)
		}
	}
	if events.AsTamper(runErr) == nil {
		t.Errorf("start = %v, want a TamperError", runErr)
	}
}

// createStreamOffline creates the ledger's stream in dir's embedded server
// as a start does (jsstore.Open), appending nothing.
func createStreamOffline(t *testing.T, dir string) {
	t.Helper()
	cfg := jsstore.DefaultEmbedded(dir)
	cfg.SyncAlways = false
	cfg.OwnerPassword, cfg.FeedPassword = "attacker", "attacker-feed"
	srv, err := jsstore.StartEmbedded(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(jsstore.OwnerUser, "attacker"), nats.InProcessServer(srv),
		nats.CustomInboxPrefix(jsstore.OwnerInboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	st, err := jsstore.Open(context.Background(), nc, jsstore.Config{Replicas: 1, OwnsServer: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
}
