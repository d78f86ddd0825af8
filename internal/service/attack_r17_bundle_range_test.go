package service

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// A bundle names its range (fromSeq, toSeq) and lists its events. When
// the list strays outside the range, the ledger's records are not the
// question (every record still sits at its sequence under the signed
// root): the file is malformed, and verify cannot vouch for the range. It
// told the auditor of tampering that is not there, at sequences the
// bundle does not cover: "deletion at sequence 9: the bundle lacks
// sequences 9 to 6" for records past toSeq, "reorder at sequence 1:
// sequence 1 comes after 1" for a first record before fromSeq,
// "insertion at sequence 0" for a range from 0. It must say it could not
// verify (exit 1), naming what is wrong with the file.
func TestVerifyBundleCallsEventsOutsideItsRangeMalformedNotTampered(t *testing.T) {
	_, _, b, vkey := r17Bundle(t)
	for _, tc := range []struct {
		name  string
		craft func(b *integrity.Bundle)
	}{
		{"records past toSeq", func(b *integrity.Bundle) { b.ToSeq -= 2 }},
		{"a first record before fromSeq", func(b *integrity.Bundle) { b.FromSeq = 2 }},
		{"a range from sequence 0, its checkpoint cut", func(b *integrity.Bundle) {
			b.FromSeq = 0
			b.Checkpoint = b.Checkpoint[:len(b.Checkpoint)/2]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crafted := *b
			crafted.Events = append(integrity.BundleEvents(nil), b.Events...)
			tc.craft(&crafted)
			code, out, errOut := runCLI(t, "verify", "--bundle", writeBundle(t, &crafted), "--key", vkey)
			if code != cli.ExitError || strings.Contains(out, "TAMPERED") {
				t.Errorf("verify: exit %d %q %q; want exit %d (the bundle is malformed), no tampering named", code, out, errOut, cli.ExitError)
			}
		})
	}
}
