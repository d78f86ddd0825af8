package service

import (
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// --key is repeatable ("every key of a rotation chain"), and an auditor
// assembles the list from several places: the same key given twice (once
// by hand, once in the @FILE of the chain) made every checkpoint
// ambiguous to the signed-note verifier list, and verify reported a
// genuine bundle as tampered ("insertion at sequence 1: the bundle's
// checkpoint: malformed"): a false alarm no record caused. A key given
// twice is the same key.
func TestVerifyBundleTakesTheSameKeyGivenTwice(t *testing.T) {
	_, file, _, vkey := r17Bundle(t)
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{"twice", []string{"--key", vkey, "--key", vkey}},
		{"twice, once with spaces around it", []string{"--key", vkey, "--key", " " + vkey + "\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"verify", "--bundle", file}, tc.keys...)...)
			if code != cli.ExitOK {
				t.Errorf("verify of a genuine bundle with the ledger's key given twice: exit %d %s %s", code, out, errOut)
			}
		})
	}
}
