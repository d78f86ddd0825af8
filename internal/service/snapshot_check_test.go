package service

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// TestSnapshotRecordCheckNamesTheRecordThatDiffers: the raw read of the
// stream a start from a snapshot makes (hashing each record with one
// reused hash) accepts the stream only when every record is the leaf the
// snapshot's tree holds, and names the record that is not, wherever it
// is (first, middle, last).
func TestSnapshotRecordCheckNamesTheRecordThatDiffers(t *testing.T) {
	m, _ := startLedger(t, filepath.Join(t.TempDir(), "data"), 5)
	tokenLifecycles(t, m, 4)
	if err := m.catchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	last := m.Runner.LastApplied()
	var leaves []tlog.Hash
	if err := m.Store.RecordRange(ctx, 1, last, func(_ uint64, _ string, data []byte) error {
		leaves = append(leaves, tlog.RecordHash(data))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		edited uint64 // 0: none
	}{
		{"every_record_matches", 0},
		{"first_record_differs", 1},
		{"a_middle_record_differs", last / 2},
		{"last_record_differs", last},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tree := integrity.NewTree()
			for i, h := range leaves {
				if uint64(i)+1 == tt.edited {
					h = tlog.RecordHash([]byte("another record"))
				}
				if err := tree.AppendHash(h); err != nil {
					t.Fatal(err)
				}
			}
			err := checkRecords(ctx, m.Store, last, tree)
			if tt.edited == 0 {
				if err != nil {
					t.Fatalf("the genuine stream was refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "sequence "+strconv.FormatUint(tt.edited, 10)+" ") {
				t.Fatalf("want the record at %d named, got %v", tt.edited, err)
			}
		})
	}
}
