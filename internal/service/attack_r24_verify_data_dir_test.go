package service_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The r23 plantings, written into the data dir of a ledger whose key file
// and key history were made ahead (nothing signed yet): the start refuses
// them (TestAPlantedHistoryBeforeTheFirstSignedEventIsNeverAccepted).
// tokenledger verify --data-dir (no --key: it trusts the key file beside
// the data dir, and since d4225e9 its key history) names both (held;
// atk-r24 found the unsigned one read intact before that commit).
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

// The replant of TestAReplantedUnsignedPrefixIsNeverAccepted (a legacy
// ledger's unsigned events 1..unsigned-through replaced by as many of the
// attacker's, the kept tree head and snapshot removed): the start refuses
// it by the key history's unsigned-root; verify --data-dir, which anchors
// in the same history, must name it too.
func TestVerifyDataDirNamesAReplantedUnsignedPrefix(t *testing.T) {
	other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
	legacySubj, legacy := unsignedTokenCreated(t, other, "*:*.legacy-token-secret-10000000000000000000000000", "legacy-1")
	forgedSubj, forged := forgeAdminToken(t, other, nil)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	createStreamOffline(t, dir)
	publishOffline(t, dir, legacySubj, legacy)
	s := servicetest.Start(t, dir, nil) // the first start that signs: unsigned through 1, its root pinned
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := verifyDataDirText(t, dir); code != 0 {
		t.Errorf("verify --data-dir of the genuine ledger: exit %d\n%s%s", code, out, errOut)
	}
	wipeBesideDataDir(t, dir)
	createStreamOffline(t, dir)
	if code, out, errOut := verifyDataDirText(t, dir); code != 7 || !strings.Contains(out, "truncat") {
		t.Errorf("verify --data-dir of an empty stream (the unsigned event the key history took is gone): exit %d, want 7 naming a truncation\n%s%s", code, out, errOut)
	}
	seq := publishOffline(t, dir, forgedSubj, forged)
	code, out, errOut := verifyDataDirText(t, dir)
	t.Logf("verify: exit %d\n%s%s", code, out, errOut)
	if code != 7 {
		t.Errorf("verify --data-dir exit %d, want 7: the record at sequence %d is not the one the key history took", code, seq)
	}
}
