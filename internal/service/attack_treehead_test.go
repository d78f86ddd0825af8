package service

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// TestVerifyDoesNotHangOnAPipePlantedBesideTheDataDir: someone with write
// access beside a stopped ledger's data dir puts a named pipe in the
// place of the signed tree head or of its leaves file. The ledger's start
// refuses to read either (not a regular file); tokenledger verify, the
// auditor's tool, must not block forever on the pipe either (nor read an
// endless file into memory): it answers, the leaves ignored as a missing
// file is.
func TestVerifyDoesNotHangOnAPipePlantedBesideTheDataDir(t *testing.T) {
	for _, tc := range []struct {
		name, suffix string
		wantOK       bool // verify still finds the data dir intact
	}{
		{"leaves", ".checkpoint" + integrity.LeavesSuffix, true},
		{"head", ".checkpoint", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := stoppedLedger(t)
			pipe := dir + tc.suffix
			if err := os.Remove(pipe); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(pipe, 0o644); err != nil {
				t.Fatal(err)
			}
			type result struct {
				code     int
				out, err string
			}
			done := make(chan result, 1)
			go func() {
				code, out, errOut := verifyOutput(t, "--data-dir", dir)
				done <- result{code, out, errOut}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(60 * time.Second):
				// Unblock the reader (a writer that opens and closes the
				// pipe gives it end of file) so the test ends.
				if w, err := os.OpenFile(pipe, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					_ = w.Close()
				}
				r = <-done
				t.Fatalf("verify blocked on the pipe %s until it was closed (exit %d)", pipe, r.code)
			}
			if tc.wantOK && r.code != cli.ExitOK {
				t.Errorf("exit %d, want %d: stdout %q, stderr %q", r.code, cli.ExitOK, r.out, r.err)
			}
		})
	}
}

// TestAnEmptyTreeHeadIsNoHead: the head file is created by the first
// head a process writes and not fsynced before a clean close, so a power
// loss after its creation can leave it empty. An empty head proves
// nothing (as a missing one, which anyone with write access could make
// of it): the ledger starts, and verify does not fail on it.
func TestAnEmptyTreeHeadIsNoHead(t *testing.T) {
	dir := stoppedLedger(t)
	if err := os.Truncate(dir+".checkpoint", 0); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := verifyOutput(t, "--data-dir", dir); code != cli.ExitOK {
		t.Errorf("verify: exit %d, want %d: stdout %q, stderr %q", code, cli.ExitOK, out, errOut)
	}
	if err := startFails(t, dir); err != nil {
		t.Errorf("the ledger refused to start on an empty tree head: %v", err)
	}
}
