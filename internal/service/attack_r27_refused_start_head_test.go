package service

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Yesterday's data dir put back under today's tree head (a stream cut
// short, records an auditor saw gone): the start refuses, and the start's
// new head of the replayed events (written "before the routes serve",
// a31c72e) is never written: the head beside the data dir still signs
// today's records, so the next start, and verify --data-dir, still name
// the truncation instead of finding a head of yesterday's stream.
func TestARefusedStartWritesNoHeadOfTheStreamItRefused(t *testing.T) {
	dir := stoppedLedger(t)
	yesterday := filepath.Join(t.TempDir(), "yesterday")
	copyDataDir(t, dir, yesterday)
	m, _ := startLedger(t, dir, 1000)
	tokenLife(t, m, "today")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	today, err := os.ReadFile(dir + ".checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dir, os.DirFS(yesterday)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := startFails(t, dir); err == nil {
			t.Fatalf("start %d on yesterday's stream under today's head: served", i+1)
		} else {
			t.Logf("start %d refused: %v", i+1, err)
		}
		if now, _ := os.ReadFile(dir + ".checkpoint"); !bytes.Equal(now, today) {
			t.Fatalf("after refused start %d the head beside the data dir changed:\n%s\nwas:\n%s", i+1, now, today)
		}
	}
}
