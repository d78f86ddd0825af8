package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary be the ledger --spawn starts (it runs
// os.Executable with serveArg first).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == serveArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := serveLedger(ctx, os.Args[2:])
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// With --spawn the command needs no ledger, token or seed: it starts a
// ledger of its own in a child process, measures it, reports the ledger's
// CPU per revocation beside the table, and stops it; with
// --ledger-cpu-profile the ledger writes its CPU profile.
func TestPropagationSpawnsALedgerOfItsOwn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	profile := filepath.Join(t.TempDir(), "ledger.pprof")
	err := run(ctx, []string{"--spawn", "--listeners", "1", "--kinds", "subscribers", "--revocations", "3", "--timeout", "20s",
		"--ledger-cpu-profile", profile},
		func(string) string { return "" }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	table, notes, _ := strings.Cut(stdout.String(), "\n\n")
	if rows := strings.Split(strings.TrimSpace(table), "\n"); len(rows) != 2 || !strings.Contains(rows[1], "subscribers") {
		t.Fatalf("table %q, want the header and one row of subscribers", table)
	}
	if !strings.Contains(notes, "1 subscribers: the ledger's CPU") {
		t.Fatalf("no CPU figure of the spawned ledger after the table: %q", notes)
	}
	// A pprof file is gzip-compressed.
	if b, err := os.ReadFile(profile); err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Fatalf("the ledger's CPU profile: %v (%d bytes), want a pprof file", err, len(b))
	}
}
