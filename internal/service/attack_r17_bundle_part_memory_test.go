package service

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// A bundle part may be up to 1 GiB (integrity.MaxBundleBytes) and verify
// holds one part at a time: the README's promise is memory of one part.
// But an event of three bytes ("{}," in the events array) decodes to a
// BundleEvent of 56 bytes, grown by appending: a crafted part of a few MB
// costs hundreds of MB, a 1 GiB one tens of GB (the auditor's machine
// swaps or the verifier is killed). No honest part holds more events than
// one bundle answer (20,000), so verify must refuse more before it
// decodes them, whatever their size: its allocations stay within a
// small multiple of the file.
func TestVerifyBundleAllocatesNoMoreThanAFewTimesAPartsBytes(t *testing.T) {
	_, _, b, vkey := r17Bundle(t)
	const tiny = 400_000
	for _, tc := range []struct {
		name, event string
	}{
		{"empty objects", "{}"},
		{"nulls", "null"},
		{"events of a sequence and an empty proof", `{"seq":1,"proof":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			fmt.Fprintf(&buf, `{"format":"tokenledger-bundle/1","checkpoint":%q,"fromSeq":1,"toSeq":%d,"events":[`, b.Checkpoint, b.ToSeq)
			buf.WriteString(strings.Repeat(tc.event+",", tiny-1))
			buf.WriteString(tc.event + "]}\n")
			file := filepath.Join(t.TempDir(), "tiny-events.json")
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			code, out, errOut := runCLI(t, "verify", "--bundle", file, "--key", vkey)
			runtime.ReadMemStats(&after)
			if code == cli.ExitOK {
				t.Fatalf("verify: exit 0 for %d events that are not the ledger's: %s", tiny, out)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			if limit := uint64(4*buf.Len() + 16<<20); alloc > limit {
				t.Errorf("verify of a %d-byte part of %d events allocated %d MB (limit %d MB): exit %d %s%s",
					buf.Len(), tiny, alloc>>20, limit>>20, code, out, errOut)
			}
		})
	}
}
