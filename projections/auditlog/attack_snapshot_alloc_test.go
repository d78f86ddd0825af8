package auditlog_test

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/tokenledger/tokenledger/projections/auditlog"
)

// RestoreSnapshot sizes the per-sequence time table from the header's
// count before reading anything that pays for it: sequences not in the
// applied set cost no input bytes. A section of a few dozen bytes claiming
// 2^24 sequences, none applied, makes it allocate 128 MiB (and 2^32 would
// be 32 GiB): the count must be bounded by what the input holds.
func TestRestoreSnapshotAllocatesNoMoreThanItsInputPaysFor(t *testing.T) {
	const claimed = 1 << 24
	empty, err := roaring.New().ToBytes()
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	b = binary.AppendUvarint(b, 1)       // version
	b = binary.AppendUvarint(b, claimed) // last applied
	b = binary.AppendUvarint(b, 1)       // base
	b = binary.AppendUvarint(b, claimed) // times: last-base+1
	b = binary.AppendUvarint(b, uint64(len(empty)))
	b = append(b, empty...) // no sequence applied: every time is a gap

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err = auditlog.New(nil).RestoreSnapshot(b)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a section with no indexes restored without an error")
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Fatalf("restoring %d bytes allocated %d MiB (err %v)", len(b), got>>20, err)
	}
}
