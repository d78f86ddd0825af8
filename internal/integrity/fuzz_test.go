package integrity_test

import (
	"bytes"
	"testing"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// FuzzVerifierDetectsAnyChangeUnderACheckpoint: any bytes in place of a
// record that a signed checkpoint covers are either the original bytes or
// a finding, and never a panic.
func FuzzVerifierDetectsAnyChangeUnderACheckpoint(f *testing.F) {
	k := newKey(f, "ledger.example")
	l := newTestLog(f, k)
	l.fill(18, 10)
	orig := l.records[4]
	f.Add(orig)
	f.Add(bytes.Replace(orig, []byte("tok-4"), []byte("tok-5"), 1))
	f.Add([]byte(`{"id":"x","type":"token.revoked","kind":"token","aggregate":"a","hash":"` + string(bytes.Repeat([]byte("0"), 64)) + `"}`))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs := clone(l.records)
		rs[4] = data
		v := integrity.NewVerifier(integrity.Config{Keys: k.keys})
		_ = v.AddBatch(1, rs)
		rep := v.Finish(0)
		if bytes.Equal(data, orig) {
			if rep.Finding != nil {
				t.Fatalf("the original record reported: %v", rep.Finding)
			}
			return
		}
		if rep.Finding == nil {
			t.Fatalf("a changed record under a checkpoint went unnoticed: %q", data)
		}
	})
}
