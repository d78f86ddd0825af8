package service_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// verifyDataDir runs "tokenledger verify --json --data-dir dir" and
// returns its exit code and report.
func verifyDataDir(t *testing.T, dir string) (int, map[string]any) {
	t.Helper()
	code, stdout, stderr := verifyDataDirText(t, dir, "--json")
	var rep map[string]any
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("verify exit %d, output %q, stderr %q", code, stdout, stderr)
	}
	return code, rep
}

// An attacker with the stopped ledger's data dir publishes a token.created
// of an admin token through a NATS connection of their own, after the
// shutdown checkpoint: no checkpoint covers it, so only its per-event
// signature can prove it forged. verify names its sequence, its type and
// the kind "forgery"; the service refuses it at the next start and it
// never authenticates.
func TestVerifyNamesAnEventForgedAfterTheLastCheckpoint(t *testing.T) {
	for _, f := range forgers(t) {
		t.Run(f.name, func(t *testing.T) {
			s := servicetest.Start(t, "", nil)
			subject, data := forgeAdminToken(t, s, f.signer)
			if err := s.Close(); err != nil { // appends the shutdown checkpoint
				t.Fatal(err)
			}
			dir := s.Config.DataDir
			if code, rep := verifyDataDir(t, dir); code != cli.ExitOK || rep["intact"] != true {
				t.Fatalf("before the forgery: exit %d, %v", code, rep)
			}
			seq := publishOffline(t, dir, subject, data)
			code, rep := verifyDataDir(t, dir)
			detail, _ := rep["detail"].(string)
			if code != cli.ExitTampered || rep["kind"] != "forgery" || rep["seq"] != float64(seq) || !strings.Contains(detail, "token.created") {
				t.Fatalf("verify: exit %d, %v at %v (%s); want exit %d, forgery of a token.created at %d",
					code, rep["kind"], rep["seq"], detail, cli.ExitTampered, seq)
			}
			s = servicetest.Start(t, dir, nil)
			refusesForgedAdmin(t, s, seq)
		})
	}
}
