package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// An auditor verifies a stopped ledger's data dir and keeps the checkpoint
// verify prints ("keep it for --since-checkpoint"), as the README says.
// The ledger starts again and stays idle (no new events, so no new
// checkpoint). The auditor then verifies the running ledger with that
// checkpoint: nothing was taken away, so verify must not name
// tail-truncation (a false alarm), and the bundle route must serve the
// range the README's `export --bundle --since N` asks for.
func TestTheCheckpointVerifyDataDirPrintsServesAsSinceCheckpointForTheServer(t *testing.T) {
	dir := stoppedLedger(t)
	code, out, errOut := verifyOutput(t, "--data-dir", dir)
	if code != cli.ExitOK {
		t.Fatalf("verify --data-dir: exit %d\n%s%s", code, out, errOut)
	}
	var rep struct {
		Checkpoint string `json:"checkpoint"`
		LastSeq    uint64 `json:"lastSeq"`
		Proven     int64  `json:"proven"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Checkpoint == "" {
		t.Fatalf("verify --data-dir --json: %v\n%s", err, out)
	}
	kept := filepath.Join(t.TempDir(), "kept.checkpoint")
	if err := os.WriteFile(kept, []byte(rep.Checkpoint), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := integrity.ParseCheckpoint(noteTextOnly(rep.Checkpoint))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verify --data-dir kept a checkpoint of %d records (stream to %d, proven %d)", cp.Size, rep.LastSeq, rep.Proven)

	m := startLedgerChecked(t, dir, 4)
	_, latest, _, _ := m.checkpoints.Latest()
	t.Logf("the restarted ledger's latest checkpoint: %d records", latest)

	var stdout, stderr bytes.Buffer
	env := map[string]string{cli.EnvToken: testAdmin, cli.EnvAddr: m.URL()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = cli.Run(ctx, []string{"verify", "--server", m.URL(), "--key", m.VerifierKey(), "--since-checkpoint", kept},
		cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
	t.Logf("verify --server --since-checkpoint: exit %d\n%s%s", code, stdout.String(), stderr.String())
	if code != cli.ExitOK {
		t.Errorf("verify --server --since-checkpoint (the checkpoint verify --data-dir printed) on the same, untouched ledger: exit %d, want intact", code)
	}
}

// The README: "The head file is a checkpoint `verify --since-checkpoint`
// takes." An auditor copies the tree head a stopped ledger keeps beside
// its data dir (it signs every record, the stream's last checkpoint event
// included) and, once the ledger runs again and stays idle, verifies it
// with that head: nothing was taken away, so verify --server must not name
// tail-truncation (exit 7). The ledger serves its own signed tree head as
// its newest checkpoint (it signs the records the stream's last
// checkpoint does not reach): intact. A ledger that keeps no tree head
// (a benchmark's setting) serves only the stream's checkpoint; its tree
// holds the head's records (its consistency route proves its signed
// checkpoint and the head one history), but its bundles do not reach the
// head's last record: verify cannot prove that record, so it says it
// could not verify (exit 1) and why, rather than intact. A ledger whose
// stream was cut before the head is still named (the test after this one).
func TestTheTreeHeadFileServesAsSinceCheckpointForTheServer(t *testing.T) {
	tests := []struct {
		name     string
		change   func(*Config)
		wantCode int
		wantErr  string
	}{
		{name: "the_ledger_serves_its_tree_head", change: func(*Config) {}, wantCode: cli.ExitOK},
		{name: "a_ledger_without_a_tree_head_serves_the_streams_checkpoint", change: func(c *Config) { c.noTreeHead = true },
			wantCode: cli.ExitError, wantErr: "next checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, head, kept := stoppedLedgerAndHead(t)
			m := startLedgerChecked(t, dir, 4, tt.change)
			_, latest, _, _ := m.checkpoints.Latest()
			t.Logf("the head signs %q; the restarted ledger's latest checkpoint: %d records", noteTextOnly(string(head)), latest)

			var stdout, stderr bytes.Buffer
			env := map[string]string{cli.EnvToken: testAdmin, cli.EnvAddr: m.URL()}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			code := cli.Run(ctx, []string{"verify", "--server", m.URL(), "--key", m.VerifierKey(), "--since-checkpoint", kept},
				cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
			t.Logf("verify --server --since-checkpoint HEAD: exit %d\n%s%s", code, stdout.String(), stderr.String())
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) || strings.Contains(stdout.String(), "TAMPERED") {
				t.Errorf("verify --server --since-checkpoint (the tree head kept beside the data dir) on the same, untouched ledger: exit %d, want %d, no tampering named", code, tt.wantCode)
			}
		})
	}
}

// startLedgerChecked is startLedger once the whole-log check of the history a
// restart restored its snapshot over is done: the audit routes (bundles)
// answer 503 until then.
func startLedgerChecked(t *testing.T, dir string, every int, change ...func(*Config)) *Main {
	t.Helper()
	m, _ := startLedger(t, dir, every, change...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.check.Wait(ctx); err != nil {
		t.Fatalf("the whole-log check after the start: %v", err)
	}
	return m
}

// stoppedLedgerAndHead is a stopped ledger's data dir, the tree head
// kept beside it, and an auditor's copy of that head (a file).
func stoppedLedgerAndHead(t *testing.T) (dir string, head []byte, kept string) {
	t.Helper()
	dir = stoppedLedger(t)
	head, err := os.ReadFile(dir + ".checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	kept = filepath.Join(t.TempDir(), "head.checkpoint")
	if err := os.WriteFile(kept, head, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, head, kept
}

// noteTextOnly is a signed note's text, before its blank line.
func noteTextOnly(signed string) string {
	if i := bytes.Index([]byte(signed), []byte("\n\n")); i >= 0 {
		return signed[:i+1]
	}
	return signed
}

// The other side of the two tests above: a kept checkpoint past the
// server's latest one is accounted for only by the server's tree. A server
// running yesterday's data dir (its stream ends before the head the
// auditor kept today), or a fork (a copy that wrote other records past
// yesterday's, no checkpoint since), is still named: exit 7.
func TestVerifyServerStillNamesAStreamThatDoesNotReachTheKeptHead(t *testing.T) {
	dir := stoppedLedger(t)
	yesterday := filepath.Join(t.TempDir(), "yesterday")
	copyDataDir(t, dir, yesterday)
	fork := filepath.Join(t.TempDir(), "fork")
	copyDataDir(t, dir, fork)

	m, _ := startLedger(t, dir, 1000, func(c *Config) { c.CheckpointInterval = time.Hour })
	for i := range 3 {
		tokenLife(t, m, fmt.Sprint("today-", i))
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	head, err := os.ReadFile(dir + ".checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(t.TempDir(), "head.checkpoint")
	if err := os.WriteFile(kept, head, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("the auditor keeps today's head: %q", noteTextOnly(string(head)))

	verifyServer := func(m *Main) (int, string) {
		var stdout, stderr bytes.Buffer
		env := map[string]string{cli.EnvToken: testAdmin, cli.EnvAddr: m.URL()}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code := cli.Run(ctx, []string{"verify", "--server", m.URL(), "--key", m.VerifierKey(), "--since-checkpoint", kept},
			cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
		return code, stdout.String() + stderr.String()
	}
	t.Run("yesterdays_data_dir", func(t *testing.T) {
		m := startLedgerChecked(t, yesterday, 1000, func(c *Config) { c.CheckpointInterval = time.Hour })
		code, out := verifyServer(m)
		t.Logf("exit %d\n%s", code, out)
		if code != cli.ExitTampered || !strings.Contains(out, "tail-truncation") {
			t.Errorf("verify --server --since-checkpoint (today's head) on yesterday's data dir: exit %d, want tail-truncation", code)
		}
		_ = m.Close()
	})
	t.Run("a_fork_past_yesterday", func(t *testing.T) {
		m := startLedgerChecked(t, fork, 1000, func(c *Config) { c.CheckpointInterval = time.Hour })
		for i := range 5 {
			tokenLife(t, m, fmt.Sprint("fork-", i))
		}
		code, out := verifyServer(m)
		t.Logf("exit %d\n%s", code, out)
		if code != cli.ExitTampered {
			t.Errorf("verify --server --since-checkpoint (today's head) on a fork of yesterday: exit %d, want tampering named", code)
		}
		_ = m.Close()
	})
}

// The same head given to verify --bundle, with a bundle of the idle
// ledger (tokenledger export --bundle: the whole log under its newest
// checkpoint): nothing was taken away, so verify must not name
// tail-truncation. atk-r26 found it did: a bundle's checkpoint was the
// stream's last checkpoint event, which never counts its own event, so the
// head (which does) was always past it on an idle ledger, and the bundle
// of a ledger cut before the head looks the same. The ledger now serves
// its signed tree head as its newest checkpoint, and bundles under it.
func TestTheTreeHeadFileServesAsSinceCheckpointForABundle(t *testing.T) {
	dir, _, kept := stoppedLedgerAndHead(t)
	m := startLedgerChecked(t, dir, 4)
	bundle := filepath.Join(t.TempDir(), "ledger.bundle.json")
	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		env := map[string]string{cli.EnvToken: testAdmin, cli.EnvAddr: m.URL()}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code := cli.Run(ctx, args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
		return code, stdout.String() + stderr.String()
	}
	if code, out := run("export", "--bundle", bundle); code != cli.ExitOK {
		t.Fatalf("export --bundle: exit %d\n%s", code, out)
	}
	code, out := run("verify", "--bundle", bundle, "--key", m.VerifierKey(), "--since-checkpoint", kept)
	t.Logf("verify --bundle --since-checkpoint HEAD: exit %d\n%s", code, out)
	if code == cli.ExitTampered {
		t.Errorf("verify --bundle --since-checkpoint (the tree head kept beside the data dir) of the same, untouched ledger names tampering")
	}
}
