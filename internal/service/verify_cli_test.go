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

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// runCLI runs the command line with TOKENLEDGER_TOKEN set to the admin.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		if k == cli.EnvToken {
			return testAdmin
		}
		return ""
	}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, args, env)
	return code, stdout.String(), stderr.String()
}

func TestVerifyAServerAndABundleWithThePublicKeyAlone(t *testing.T) {
	m, _ := startLedger(t, filepath.Join(t.TempDir(), "data"), 4, func(c *Config) { c.CheckpointInterval = 20 * time.Millisecond })
	tokenLife(t, m, "a")
	tokenLife(t, m, "b")
	last, _ := m.Store.LastSequence(context.Background())
	waitCheckpoint(t, m, int64(last))
	vkey := m.VerifierKey()

	code, out, errOut := runCLI(t, "verify", "--server", m.URL(), "--key", vkey, "--json", "--progress")
	if !bytes.Contains([]byte(errOut), []byte("verified ")) {
		t.Errorf("--progress printed no progress line: %q", errOut)
	}
	var rep map[string]any
	_ = json.Unmarshal([]byte(out), &rep)
	if code != 0 || rep["intact"] != true {
		t.Fatalf("verify --server: exit %d %s %s", code, out, errOut)
	}

	file := filepath.Join(t.TempDir(), "ledger.bundle.json")
	if code, _, errOut := runCLI(t, "export", "--server", m.URL(), "--bundle", file); code != 0 {
		t.Fatalf("export: exit %d %s", code, errOut)
	}
	// On "another machine": the file and the public key, nothing else.
	code, out, errOut = runCLI(t, "verify", "--bundle", file, "--key", vkey, "--json")
	rep = nil
	_ = json.Unmarshal([]byte(out), &rep)
	if code != 0 || rep["intact"] != true || rep["complete"] != true {
		t.Fatalf("verify --bundle: exit %d %s %s", code, out, errOut)
	}

	// The next incremental export, nothing recorded since: said so, and
	// no file written.
	_, cpBody := text(t, m, "GET", "/api/ledger/checkpoint", nil)
	var cp struct{ Size int64 }
	if err := json.Unmarshal([]byte(cpBody), &cp); err != nil || cp.Size < 1 {
		t.Fatalf("checkpoint: %v %s", err, cpBody)
	}
	next := filepath.Join(t.TempDir(), "next.bundle.json")
	code, _, errOut = runCLI(t, "export", "--server", m.URL(), "--bundle", next, "--from-seq", fmt.Sprint(cp.Size+1), "--since", fmt.Sprint(cp.Size))
	if _, err := os.Stat(next); code != cli.ExitNotFound || err == nil || !strings.Contains(errOut, "nothing to export") {
		t.Errorf("export from past the latest checkpoint (%d): exit %d, file %v, stderr %q; want exit %d, \"nothing to export\" and no file", cp.Size, code, err, errOut, cli.ExitNotFound)
	}

	// Every key of a rotation chain may be given; a key that is not the
	// ledger's proves nothing.
	_, otherKey, _ := note.GenerateKey(nil, "tokenledger")
	if code, out, _ := runCLI(t, "verify", "--bundle", file, "--key", otherKey, "--key", vkey); code != 0 {
		t.Fatalf("two keys, the ledger's among them: exit %d %s", code, out)
	}
	if code, out, _ := runCLI(t, "verify", "--bundle", file, "--key", otherKey); code != cli.ExitTampered {
		t.Fatalf("another key: exit %d %s, want %d", code, out, cli.ExitTampered)
	}

	// One event edited in the bundle.
	raw, _ := os.ReadFile(file)
	b, err := integrity.ReadBundle(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b.Events[5].Data = bytes.Replace(b.Events[5].Data, []byte(`"v":1`), []byte(`"v":2`), 1)
	edited, _ := integrity.MarshalBundle(b)
	_ = os.WriteFile(file, edited, 0o644)
	code, out, _ = runCLI(t, "verify", "--bundle", file, "--key", vkey, "--json")
	rep = nil
	_ = json.Unmarshal([]byte(out), &rep)
	if code != cli.ExitTampered || rep["kind"] != "byte-edit" || rep["seq"] != float64(b.Events[5].Seq) {
		t.Fatalf("edited bundle: exit %d %s", code, out)
	}

	for _, args := range [][]string{
		{"verify", "--bundle", file},                        // no key
		{"verify", "--bundle", file, "--key", "not-a-key"},  // not a key
		{"verify", "--bundle", file, "--data-dir", "/nope"}, // two sources
		{"verify"},                      // none
		{"export", "--server", m.URL()}, // no file
	} {
		if code, _, _ := runCLI(t, args...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, cli.ExitUsage)
		}
	}
	skey, _ := os.ReadFile(filepath.Join(filepath.Dir(m.Config.DataDir), "data.signing-key"))
	if code, _, errOut := runCLI(t, "verify", "--bundle", file, "--key", string(skey)); code != cli.ExitUsage || bytes.Contains([]byte(errOut), bytes.TrimSpace(skey)) {
		t.Errorf("a private key as --key: exit %d, %s", code, errOut)
	}
}

// copyDataDir copies a stopped ledger's data dir and the files beside it.
func copyDataDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".signing-key", ".checkpoint"} {
		b, err := os.ReadFile(from + ext)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+ext, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyAgainstAnAuditorsCheckpointNamesTailTruncationAndFork(t *testing.T) {
	dir := stoppedLedger(t)
	yesterday := filepath.Join(t.TempDir(), "yesterday")
	copyDataDir(t, dir, yesterday)
	fork := filepath.Join(t.TempDir(), "fork")
	copyDataDir(t, dir, fork)

	// Today the ledger goes on; the auditor keeps today's checkpoint.
	m, _ := startLedger(t, dir, 4)
	tokenLife(t, m, "today")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	auditor := filepath.Join(t.TempDir(), "auditor.checkpoint")
	kept, _ := os.ReadFile(dir + ".checkpoint")
	_ = os.WriteFile(auditor, kept, 0o644)
	keys, _ := integrity.Verifiers(m.VerifierKey())
	cp, err := integrity.OpenCheckpoint(kept, keys)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("tail_truncation", func(t *testing.T) {
		// The attacker puts yesterday's data dir and kept checkpoint back:
		// consistent in itself, only the auditor's checkpoint shows it.
		if code, rep := runVerify(t, "--data-dir", yesterday); code != 0 {
			t.Fatalf("without the auditor's checkpoint: exit %d %v", code, rep)
		}
		code, rep := runVerify(t, "--data-dir", yesterday, "--since-checkpoint", auditor)
		_, _, recs := readBlock(t, yesterday)
		if code != cli.ExitTampered || rep["kind"] != "tail-truncation" || rep["seq"] != float64(len(recs)+1) {
			t.Fatalf("exit %d %v, want tail-truncation at %d", code, rep, len(recs)+1)
		}
	})
	t.Run("fork", func(t *testing.T) {
		// The same key signs another history from yesterday on.
		m, _ := startLedger(t, fork, 4)
		tokenLife(t, m, "other-1")
		tokenLife(t, m, "other-2")
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		code, rep := runVerify(t, "--data-dir", fork, "--since-checkpoint", auditor)
		if code != cli.ExitTampered || rep["kind"] != "fork" || rep["seq"] != float64(cp.Size) {
			t.Fatalf("exit %d %v, want a fork at %d", code, rep, cp.Size)
		}
	})
}
