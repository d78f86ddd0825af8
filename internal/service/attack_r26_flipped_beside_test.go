package service_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// An attacker (or a failing disk) flips one byte in one of the files a
// stopped ledger keeps beside its data dir: the signed tree head, its
// leaves, the key file, the key history, the projection snapshot. verify
// --data-dir and the ledger's start must agree: verify says intact (exit
// 0) only where the start serves, and never names tampering (exit 7)
// where the start serves; where the start refuses, verify does not say
// intact.
func TestAByteFlippedBesideTheDataDirVerifyAndTheStartAgree(t *testing.T) {
	files := []struct {
		name string
		path func(dir string) string
	}{
		{"tree_head", func(dir string) string { return dir + ".checkpoint" }},
		{"tree_head_leaves", func(dir string) string { return dir + ".checkpoint" + integrity.LeavesSuffix }},
		{"key_file", func(dir string) string { return ledgerkey.DefaultFile(dir) }},
		{"key_history", func(dir string) string { return ledgerkey.HistoryFile(ledgerkey.DefaultFile(dir)) }},
		{"snapshot", func(dir string) string { return dir + ".snapshot" }},
	}
	for _, f := range files {
		for _, where := range []string{"middle", "last"} {
			t.Run(f.name+"_"+where, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "data")
				s := servicetest.Start(t, dir, nil)
				s.CreateToken("backend", "development")
				s.CreateToken("client", "development")
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				p := f.path(dir)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				i := len(b) / 2
				if where == "last" {
					i = len(b) - 1
					for i > 0 && (b[i] == '\n') {
						i--
					}
				}
				b[i] ^= 0x01
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
				code, stdout, stderr := verifyDataDirText(t, dir)
				t.Logf("verify --data-dir: exit %d\n%s%s", code, stdout, stderr)
				cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
				m, runErr := runToStop(cfg, 3*time.Second)
				defer func() { _ = m.Close() }()
				t.Logf("start: %v", runErr)
				switch {
				case runErr == nil && code == cli.ExitTampered:
					t.Errorf("verify names tampering (exit 7) where the start serves")
				case runErr != nil && code == cli.ExitOK:
					t.Errorf("verify says intact where the start refuses: %v", runErr)
				}
			})
		}
	}
}
