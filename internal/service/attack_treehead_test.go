package service

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// TestALeavesFileThatCannotBeWrittenDoesNotStopTheTreeHead: someone with
// write access beside the stopped data dir puts a directory in the place
// of the head's leaves file (a full disk or a read-only file does the
// same). The start ignores an unreadable leaves file; the head's writer
// then failed on the leaves before every note, so no head was written
// again while every change was still answered: the acknowledged writes
// were signed nowhere outside the data dir. The leaves only locate a
// change; the head must still count each acknowledged event.
func TestALeavesFileThatCannotBeWrittenDoesNotStopTheTreeHead(t *testing.T) {
	dir := stoppedLedger(t)
	leaves := dir + ".checkpoint" + integrity.LeavesSuffix
	if err := os.Remove(leaves); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(leaves, 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := startLedger(t, dir, 100000)
	keys, err := integrity.Verifiers(m.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	seq, head, err := createAndReadHead(t, m, dir, "after-the-plant", keys)
	if err != nil || head.Size < seq {
		t.Errorf("after the answer for sequence %d the kept head is %+v (%v)", seq, head, err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentAcknowledgedWritesAreEachCoveredByTheTreeHead: 16 clients
// create tokens at once; when each answer arrives, the signed tree head
// beside the data dir counts the answer's event (a burst makes one head,
// none of its writers is answered before it).
func TestConcurrentAcknowledgedWritesAreEachCoveredByTheTreeHead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m, _ := startLedger(t, dir, 100000)
	keys, err := integrity.Verifiers(m.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 16*4)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				req, _ := http.NewRequest("POST", m.URL()+"/api/admin/api-tokens",
					strings.NewReader(fmt.Sprintf(`{"tokenName":"c%d-%d","type":"backend","environment":"production","projects":["default"]}`, g, i)))
				req.Header.Set("Authorization", testAdmin)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				resp.Body.Close()
				seq, _ := strconv.ParseInt(resp.Header.Get("X-Ledger-Sequence"), 10, 64)
				if resp.StatusCode != http.StatusCreated || seq == 0 {
					errs <- fmt.Sprintf("create: %d, sequence %q", resp.StatusCode, resp.Header.Get("X-Ledger-Sequence"))
					return
				}
				b, err := os.ReadFile(dir + ".checkpoint")
				if err != nil {
					errs <- err.Error()
					return
				}
				head, err := integrity.OpenCheckpoint(b, keys)
				if err != nil || head.Size < seq {
					errs <- fmt.Sprintf("after the answer for sequence %d the kept head is %+v (%v)", seq, head, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTheTreeHeadIsNeverWrittenThroughAHardLink: someone with write
// access beside the stopped data dir replaces the head with a hard link
// to another file of the service's user (empty, so that the start takes
// it as no head). The head is written in place: it must not write its
// notes into the other file, but into a head file of its own.
func TestTheTreeHeadIsNeverWrittenThroughAHardLink(t *testing.T) {
	dir := stoppedLedger(t)
	victim := filepath.Join(filepath.Dir(dir), "victim")
	if err := os.WriteFile(victim, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	head := dir + ".checkpoint"
	if err := os.Remove(head); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(victim, head); err != nil {
		t.Fatal(err)
	}
	m, _ := startLedger(t, dir, 100000)
	tokenLife(t, m, "after-the-link")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(victim); err != nil || len(b) != 0 {
		t.Errorf("the linked file now holds %q (%v)", b, err)
	}
	if b, err := os.ReadFile(head); err != nil || len(b) == 0 {
		t.Errorf("no head of its own: %q (%v)", b, err)
	}
}
