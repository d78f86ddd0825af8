package service

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// TestSnapshotRecordCheckNamesTheRecordThatDiffers: the raw read of the
// stream that runs beside a snapshot's decoding accepts the stream only
// when every record is the leaf the snapshot's tree holds, and names the
// first that is not, wherever it is (first, middle, last).
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
			c := startRecordCheck(ctx, m.Store, last)
			defer c.stop()
			err := c.wait(tree)
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

// TestSnapshotRestoreFailureLeavesNoReaderOfTheStream: when a projection
// of an authentic snapshot does not decode, the start discards it and
// the read of the stream begun beside the decoding is over (its consumer
// deleted) before the full replay starts.
func TestSnapshotRestoreFailureLeavesNoReaderOfTheStream(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 5)
	tokenLifecycles(t, m, 6)
	_ = m.Close()
	file, err := os.ReadFile(dir + ".snapshot")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := key.DeriveKey(snapshotMACInfo)

	m, logs := startLedger(t, dir, 5, snapshotsOff)
	h, err := decodeSnapshot(file, mac)
	if err != nil {
		t.Fatal(err)
	}
	h.sections[2] = bytes.Repeat([]byte{0xff}, 64) // the audit index, decoded last but one
	s := &snapshots{log: m.log, file: dir + ".snapshot", mac: mac, keyID: key.ID(), store: m.Store}
	ctx := context.Background()
	// Stop the ledger's own readers (the projections' consumer), so that
	// any consumer left is the check's.
	m.cancel()
	for i := 0; consumers(t, m) != 0; i++ {
		if i == 100 {
			t.Fatal("the projections' consumer is still there")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = s.load(ctx, encodeSnapshot(h, mac), nil, func() projectionSet {
		return projectionSet{tokenset.New(), directory.New(), auditlog.New(m.Store), integrity.NewLog(), projections.NewChains()}
	})
	if err == nil || !strings.Contains(err.Error(), "auditlog") {
		t.Fatalf("want the audit index refused, got %v\n%s", err, logs)
	}
	if n := consumers(t, m); n != 0 {
		t.Fatalf("%d consumers on the stream after the failed restore", n)
	}
}

// consumers is the number of consumers on m's stream.
func consumers(t *testing.T, m *Main) int {
	t.Helper()
	ctx := context.Background()
	js, err := jetstream.New(m.nc)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range str.ListConsumers(ctx).Info() {
		n++
	}
	return n
}
