package service_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The r23 plantings, written into the data dir of a ledger whose key file
// and key history were made ahead (nothing signed yet): the start refuses
// them (TestAPlantedHistoryBeforeTheFirstSignedEventIsNeverAccepted).
// What does tokenledger verify --data-dir (no --key: it trusts the key
// file beside the data dir, not its key history) say of them?
func TestVerifyDataDirOnAPlantedHistoryBeforeTheFirstSignedEvent(t *testing.T) {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
	signedSubj, signed := forgeAdminToken(t, other, mallory)
	unsignedSubj, unsigned := forgeAdminToken(t, other, nil)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		rotated bool
	}{{"signed_by_another_key_and_rotated", true}, {"unsigned", false}} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.rotated {
				t.Skip("known limit (atk-r24, not fixed): verify --data-dir takes unsigned events before the first signed one as an older version's history; " +
					"it does not read the key history's unsigned-through (the start does). Fix idea: with no --key, open the history beside the key file and Anchor the chain")
			}
			dir := filepath.Join(t.TempDir(), "data")
			keyFile := ledgerkey.DefaultFile(dir)
			key, _, err := ledgerkey.LoadOrGenerate(keyFile, ledgerkey.DefaultName) // made ahead: nothing signed yet
			if err != nil {
				t.Fatal(err)
			}
			b, err := ledgerkey.History{Keys: []string{key.VerifierKey()}}.Seal(key)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ledgerkey.HistoryFile(keyFile), b, 0o600); err != nil {
				t.Fatal(err)
			}
			createStreamOffline(t, dir)
			var seq uint64
			if tc.rotated {
				seq = publishOffline(t, dir, signedSubj, signed)
				rotSubj, rot := signedRotation(t, mallory, mallory.VerifierKey(), key.VerifierKey())
				publishOffline(t, dir, rotSubj, rot)
			} else {
				seq = publishOffline(t, dir, unsignedSubj, unsigned)
			}
			code, out, errOut := verifyDataDirText(t, dir)
			t.Logf("verify: exit %d\n%s%s", code, out, errOut)
			if code != 7 {
				t.Errorf("verify --data-dir exit %d, want 7: the planted event at sequence %d is one the ledger never wrote", code, seq)
			}
		})
	}
}
