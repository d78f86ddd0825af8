package service_test

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// verify --data-dir without --key "trusts the key file beside the data dir
// and its key history as the start does" (README). Found (atk-r25): on a
// ledger that rotated its key (serve --rotate-signing-key, nothing
// planted) it said TAMPERED, "insertion" at the last checkpoint before the
// rotation ("checkpoint not signed by the ledger key"): it took the
// history's keys as anchors of the key chain but checked the checkpoints
// against the key file's key alone, while the start, on the same data
// dir, serves. An auditor following the README gets a false alarm on every
// rotated ledger, and learns to disregard verify's verdict.
func TestVerifyDataDirOfARotatedLedgerIsIntactAsTheStartFindsIt(t *testing.T) {
	for _, rotations := range []int{1, 2} {
		dir, vkeys, _ := startRotated(t, rotations)
		if h := readHistory(t, ledgerkey.DefaultFile(dir)); strings.Join(h.Keys, " ") != strings.Join(vkeys, " ") {
			t.Fatalf("key history lists %v, want %v", h.Keys, vkeys)
		}
		code, stdout, stderr := verifyDataDirText(t, dir)
		if code != cli.ExitOK {
			t.Errorf("%d rotations: verify --data-dir: exit %d, want %d (intact)\n%s%s", rotations, code, cli.ExitOK, stdout, stderr)
		}
		s := servicetest.Start(t, dir, nil) // the start finds the same data dir the ledger's
		s.CreateToken("client", "development")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
