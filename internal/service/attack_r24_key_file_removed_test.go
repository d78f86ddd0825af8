package service_test

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// An attacker who can write the data dir's parent removes the key file and
// leaves its key history. The start generated a new key file (and logged
// GENERATED A NEW LEDGER SIGNING KEY: back it up, give auditors its
// verifier key) before the history, sealed by the removed key, refused
// it: a refused start left a key that cannot continue the stream, and the
// operator was told to hand it out. Found (atk-r24).
//
// Fixed: a key history without its key file means the key file went
// missing; the start refuses before generating anything.
func TestAKeyHistoryWithoutItsKeyFileStopsTheStartBeforeAKeyIsGenerated(t *testing.T) {
	dir, _, _ := startRotated(t, 1)
	keyFile := ledgerkey.DefaultFile(dir)
	hist, err := os.ReadFile(ledgerkey.HistoryFile(keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	err = startRefused(t, dir, nil)
	t.Logf("start: %v", err)
	if !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), "key history") {
		t.Errorf("start = %v, want a refusal naming the missing key file and its key history", err)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused start wrote a key file (%v)", err)
	}
	if b, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile)); string(b) != string(hist) {
		t.Errorf("the refused start changed the key history")
	}
}
