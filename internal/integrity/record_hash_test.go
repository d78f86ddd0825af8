package integrity

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The pooled leaf hashes are tlog's RFC 6962 record hashes, record after
// record (a reused digest starts afresh), at lengths around the digest's
// block (the prefix byte shifts the record against it).
func TestRecordHashIsTlogsRecordHash(t *testing.T) {
	var pr preparer
	long := make([]byte, 1000)
	for i := range long {
		long[i] = byte(i*7 + 3)
	}
	records := [][]byte{nil, []byte("{}"), make([]byte, 1000), []byte(`{"id":"x"}`)}
	for _, n := range []int{1, 62, 63, 64, 65, 127, 128, 129, 1000, 5} {
		records = append(records, long[:n])
	}
	for _, data := range records {
		want := tlog.RecordHash(data)
		if got := recordHash(data); got != want {
			t.Fatalf("recordHash(%q) = %v, want %v", data, got, want)
		}
		if got := pr.recordHash(data); got != want {
			t.Fatalf("preparer.recordHash(%q) = %v, want %v", data, got, want)
		}
	}
}

// A leaf hash allocates nothing: verify and a replay hash every record
// (the byte slices given to the digest through its interface escaped, two
// allocations a record).
func TestLeafHashAllocatesNothing(t *testing.T) {
	var pr preparer
	data := make([]byte, 600)
	want := tlog.RecordHash(data)
	if got := pr.recordHash(data); got != want {
		t.Fatalf("preparer.recordHash = %v, want %v", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { pr.recordHash(data) }); n != 0 {
		t.Errorf("preparer.recordHash allocates %v times a record, want 0", n)
	}
}
