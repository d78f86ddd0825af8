package service

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// A --since-checkpoint signed by a key verify was not given (another
// ledger's) is the auditor's file, not evidence about this ledger: verify
// could not verify (exit 1), says why and how to fix it, and reports no
// tampering.
func TestVerifyWithAForeignKeptCheckpointCouldNotVerify(t *testing.T) {
	a, b := stoppedLedger(t), stoppedLedger(t)
	code, out, errOut := verifyOutput(t, "--data-dir", a, "--since-checkpoint", b+".checkpoint")
	if code != cli.ExitError {
		t.Fatalf("verify with another ledger's checkpoint: exit %d, want %d (could not verify): %s %s", code, cli.ExitError, out, errOut)
	}
	for _, want := range []string{"could not verify", "not signed by the ledger's key", "--key"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not say %q", errOut, want)
		}
	}
	if strings.Contains(out, "TAMPERED") || strings.Contains(errOut, "TAMPERED") {
		t.Errorf("reported as tampering: %s %s", out, errOut)
	}
}
