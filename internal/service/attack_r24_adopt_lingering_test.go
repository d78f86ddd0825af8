package service_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// adoptionValue is the --adopt-key-history value a refused start names.
func adoptionValue(t *testing.T, refusal error) string {
	t.Helper()
	m := regexp.MustCompile(`--adopt-key-history=([0-9a-f]+)`).FindStringSubmatch(refusal.Error())
	if m == nil {
		t.Fatalf("the refusal names no --adopt-key-history value: %v", refusal)
	}
	return m[1]
}

// --adopt-key-history is meant for one start (a ledger rotated by a
// version before key histories), but nothing bound it to the stream the
// operator checked: a flag left in the service's command line (a unit
// file, a compose file) adopted whatever stream the next start without a
// key history found. An attacker who can write the data dir and its parent
// removes the key history, the kept tree head and the snapshot, replaces
// the stream by an admin token.created signed by a key of their own and a
// key.rotated from it to the ledger's key: the lingering flag adopted the
// attacker's key as the ledger's first one, and the planted admin token
// authenticated. Found (atk-r24).
//
// Fixed: the flag's value is the one the refusal names, a digest of the
// stream as it is (last sequence, tree hash, rotations' keys, key file's
// key); given for another stream it adopts nothing.
func TestALingeringAdoptKeyHistoryFlagNeverAdoptsAPlantedKey(t *testing.T) {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
	forgedSubj, forged := forgeAdminToken(t, other, mallory)
	unsignedSubj, unsigned := forgeAdminToken(t, other, nil)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		rotated bool // the planted token.created signed by mallory, then mallory → the ledger's key; else unsigned
	}{{"a_planted_key_chain", true}, {"a_planted_unsigned_stream", false}} {
		t.Run(tc.name, func(t *testing.T) {
			// A ledger rotated by a version before key histories, adopted
			// once with the value its refusal named.
			dir, _, keys := startRotated(t, 1)
			keyFile := ledgerkey.DefaultFile(dir)
			hfile := ledgerkey.HistoryFile(keyFile)
			if err := os.Remove(hfile); err != nil {
				t.Fatal(err)
			}
			flag := adoptionValue(t, startRefused(t, dir, nil))
			s := servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.AdoptKeyHistory = flag })
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			if err := os.Remove(hfile); err != nil {
				t.Fatal(err)
			}
			wipeBesideDataDir(t, dir)
			createStreamOffline(t, dir)
			if tc.rotated {
				publishOffline(t, dir, forgedSubj, forged)
				rotSubj, rot := signedRotation(t, mallory, mallory.VerifierKey(), keys[1].VerifierKey())
				publishOffline(t, dir, rotSubj, rot)
			} else {
				publishOffline(t, dir, unsignedSubj, unsigned)
			}

			cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
			cfg.AdoptKeyHistory = flag // left on the command line since the one start that needed it
			m, runErr := runToStop(cfg, 3*time.Second)
			defer func() { _ = m.Close() }()
			t.Logf("start: %v", runErr)
			if m.Tokens != nil {
				if _, ok := m.Tokens.Lookup(forgedAdminSecret); ok {
					t.Errorf("the planted admin token, adopted by the lingering flag, reached the token set")
				}
			}
			if runErr == nil || !strings.Contains(runErr.Error(), "given for another stream") {
				t.Errorf("start = %v, want a refusal saying the flag was given for another stream", runErr)
			}
			if _, err := os.Stat(hfile); err == nil {
				t.Errorf("the refused start wrote a key history")
			}
		})
	}
}
