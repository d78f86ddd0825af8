package service

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// An attacker who hands the auditor a bundle cannot sign its checkpoint,
// but may add signature lines of keys the auditor does not know: the
// signed-note format ignores them, and their names may hold any character
// but a space, a '+' and a C0 control (a C1 CSI, DEL, a bidi override).
// verify prints the checkpoint for the auditor to keep: it must be the
// note the ledger signed, with the ledger's signature alone, never the
// attacker's lines (raw on the terminal, and kept for --since-checkpoint
// next time), in the text report and in --json.
func TestVerifyBundleKeepsOnlyTheLedgersSignatureOnItsCheckpoint(t *testing.T) {
	_, _, b, vkey := r17Bundle(t)
	genuine := b.Checkpoint
	sig := base64.StdEncoding.EncodeToString([]byte("\x01\x02\x03\x04attacker's signature bytes"))
	for _, tc := range []struct{ name, line string }{
		{"a C1 CSI that clears the screen", "— x\u009b2J\u009bHintact: " + sig},
		{"DEL", "— del\x7f\x7f\x7f " + sig},
		{"a bidi override", "— \u202etnatsi " + sig},
		{"an unknown key's plain signature", "— tokenledger " + sig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crafted := *b
			crafted.Checkpoint = genuine + tc.line + "\n"
			file := writeBundle(t, &crafted)

			code, out, errOut := runCLI(t, "verify", "--bundle", file, "--key", vkey)
			if code != cli.ExitOK {
				t.Fatalf("verify: exit %d %s %s; the records are the ledger's, want intact", code, out, errOut)
			}
			if r := terminalControl(out); r >= 0 {
				t.Errorf("verify prints the attacker's %U to the terminal:\n%q", r, out)
			}
			if _, printed, _ := strings.Cut(out, "(keep it for --since-checkpoint):\n"); printed != genuine {
				t.Errorf("the checkpoint to keep is not the note the ledger signed:\n%q\nwant\n%q", printed, genuine)
			}

			code, out, errOut = runCLI(t, "verify", "--bundle", file, "--key", vkey, "--json")
			var rep struct {
				Intact     bool   `json:"intact"`
				Checkpoint string `json:"checkpoint"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || code != cli.ExitOK || !rep.Intact {
				t.Fatalf("verify --json: exit %d %s %s", code, out, errOut)
			}
			if rep.Checkpoint != genuine {
				t.Errorf("--json's checkpoint (jq -r .checkpoint > kept.checkpoint) is not the note the ledger signed:\n%q\nwant\n%q", rep.Checkpoint, genuine)
			}
		})
	}
}
