package service

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The files the ledger keeps beside its data dir (the projection snapshot
// and the latest signed checkpoint) are written through "<file>.tmp" and
// renamed into place. Someone who can write beside the data dir (the
// threat the snapshot's MAC is there for) plants "<file>.tmp" as a link
// to a file only the ledger may write: here the signing key, kept apart
// from the data dir with --signing-key as README advises. The ledger's
// next write must never go through the link: the key must be intact.
func TestLedgerNeverWritesThroughALinkPlantedBesideTheDataDir(t *testing.T) {
	for _, planted := range []string{".snapshot.tmp", ".checkpoint.tmp"} {
		t.Run(strings.TrimPrefix(planted, "."), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			keyFile := filepath.Join(t.TempDir(), "ledger.key")
			withKey := func(c *Config) { c.SigningKey = keyFile }
			m, _ := startLedger(t, dir, 5, withKey)
			createProjects(t, m, "p", 2)
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			key, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(keyFile, dir+planted); err != nil {
				t.Fatal(err)
			}
			m, _ = startLedger(t, dir, 5, withKey)
			createProjects(t, m, "q", 7) // a checkpoint, and a snapshot at shutdown
			_ = m.Close()
			if after, err := os.ReadFile(keyFile); err != nil || !bytes.Equal(after, key) {
				t.Fatalf("the signing key file was overwritten through the link %s (now %d bytes, was %d; err %v)",
					dir+planted, len(after), len(key), err)
			}
		})
	}
}

// startBounded starts a ledger on dir in the background and returns its
// Run's error, or fails the test when the start has not returned within
// a minute (a start blocked for ever: unblock, then report).
func startBounded(t *testing.T, dir string, unblock func()) (*Main, *lockedBuffer, error) {
	t.Helper()
	logs := &lockedBuffer{}
	env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
	m := NewMain(Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: logs, CheckpointEvery: 5, CheckpointInterval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case err := <-done:
		t.Cleanup(func() { _ = m.Close() })
		return m, logs, err
	case <-time.After(time.Minute): // a hang bound, not a measurement
		unblock()
		err := <-done
		_ = m.Close()
		t.Fatalf("the start was still blocked a minute later (its context ended after 30 s; Run = %v):\n%s", err, logs)
		return nil, nil, nil
	}
}

// A snapshot file (or kept checkpoint) replaced by a named pipe blocks a
// plain read for ever, before any check. The start must not hang: a
// snapshot that is not a regular file is discarded with a log line (the
// stream is replayed); a kept checkpoint that is not one stops the start
// with an error naming it.
func TestStartDoesNotHangOnAPipeBesideTheDataDir(t *testing.T) {
	for _, tc := range []struct {
		file    string
		wantErr bool
	}{
		{".snapshot", false},
		{".checkpoint", true},
	} {
		t.Run(strings.TrimPrefix(tc.file, "."), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			m, _ := startLedger(t, dir, 5)
			createProjects(t, m, "p", 2)
			_ = m.Close()
			path := dir + tc.file
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			unblock := func() { // a writer that closes at once: the blocked reader sees EOF
				if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			}
			_, logs, err := startBounded(t, dir, unblock)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), path) {
					t.Fatalf("start = %v, want an error naming %s", err, path)
				}
				return
			}
			if err != nil || !strings.Contains(logs.String(), "projection snapshot discarded") {
				t.Fatalf("start = %v; want a start with the snapshot discarded:\n%s", err, logs)
			}
		})
	}
}

// A snapshot (or kept checkpoint) the size of a huge sparse file is read
// whole into memory before its checksum is checked: a file of a terabyte
// that costs nothing on disk kills the start (out of memory). Here half a
// GiB against a stream of a few kilobytes: the start must not allocate
// it.
func TestStartDoesNotReadAHugeFileBesideTheDataDirIntoMemory(t *testing.T) {
	const huge = 512 << 20
	for _, file := range []string{".snapshot", ".checkpoint"} {
		t.Run(strings.TrimPrefix(file, "."), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			m, _ := startLedger(t, dir, 5)
			createProjects(t, m, "p", 2)
			_ = m.Close()
			f, err := os.Create(dir + file)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(huge); err != nil { // sparse: no disk used
				t.Fatal(err)
			}
			f.Close()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, _ = startBounded(t, dir, func() {})
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got >= huge/2 {
				t.Fatalf("the start allocated %d MiB for a %d MiB file beside a data dir of a few events", got>>20, huge>>20)
			}
		})
	}
}
