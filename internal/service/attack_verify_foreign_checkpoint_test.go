package service

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// verifyOutput runs "tokenledger verify --json" with args and returns the
// exit code, stdout and stderr, whatever they hold.
func verifyOutput(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" },
		ReadDataDir: func(ctx context.Context, dir string, setup func(cli.DataDir) error, fn func(uint64, []byte) error) (cli.DataDir, error) {
			conv := func(r StoredRecords) cli.DataDir {
				return cli.DataDir{LastSeq: r.LastSeq, KeyFile: r.KeyFile, KeptFile: r.KeptFile}
			}
			r, err := ReadDataDir(ctx, dir, func(r StoredRecords) error { return setup(conv(r)) }, fn)
			return conv(r), err
		}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, append([]string{"verify", "--json"}, args...), env)
	return code, stdout.String(), stderr.String()
}

// An auditor who hands verify the checkpoint of another ledger (another
// key) has not found tampering: nothing is known about this ledger's
// history. The README's contract: exit 7 comes with "TAMPERED: <kind> at
// sequence <n>" (or --json with intact, kind, seq); "could not verify" is
// exit 1. verify answers exit 7 and prints no report at all, so a script
// reading --json finds neither a kind nor a sequence.
func TestVerifyWithAnotherLedgersCheckpointIsNotAnUnnamedTampering(t *testing.T) {
	a, b := stoppedLedger(t), stoppedLedger(t)
	foreign := filepath.Join(t.TempDir(), "other-ledger.checkpoint")
	note, err := os.ReadFile(b + ".checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(foreign, note, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := verifyOutput(t, "--data-dir", a, "--since-checkpoint", foreign)
	var rep map[string]any
	_ = json.Unmarshal([]byte(out), &rep)
	switch {
	case code == cli.ExitOK:
		t.Fatalf("verify accepted another ledger's checkpoint: %s", out)
	case code == cli.ExitTampered && (rep == nil || rep["kind"] == nil || rep["seq"] == nil):
		t.Errorf("exit %d (tampering) without a kind or a sequence: stdout %q, stderr %q", code, out, errOut)
	}
}
