package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// A ledger restarted with --rotate-signing-key: the stream's last
// checkpoint event is signed by the retired key, the key.rotated event
// after it by the retired key too, and the ledger now signs with the new
// key. Right after the start (idle, no new events), everything the routes
// serve as the newest checkpoint must be signed by the key verifierKey
// names (the new one): the start's head, which counts the key.rotated
// event. An auditor who kept the head the ledger left before the rotation
// (signed by the retired key) verifies the server, the whole-log bundle
// and the incremental bundle from that head on, with both keys: intact.
// (With the new key alone verify names a forgery at 1: the README's
// "given only the newest key, give the older ones too".)
func TestRightAfterARotationTheServedCheckpointIsTheNewKeysHead(t *testing.T) {
	dir, _, kept := stoppedLedgerAndHead(t)
	retired, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	oldKeys, _ := integrity.Verifiers(retired.VerifierKey())
	keptBytes, _ := os.ReadFile(kept)
	keptCp, err := integrity.OpenCheckpoint(keptBytes, oldKeys)
	if err != nil {
		t.Fatal(err)
	}
	m := startLedgerChecked(t, dir, 1000, func(c *Config) { c.RotateSigningKey = true })
	vkey := m.VerifierKey()
	if vkey == retired.VerifierKey() {
		t.Fatal("the key did not rotate")
	}
	newKeys, _ := integrity.Verifiers(vkey)

	status, body := get(t, m, "/api/ledger/checkpoint", testAdmin)
	var cp struct {
		Size        int64  `json:"size"`
		Checkpoint  string `json:"checkpoint"`
		VerifierKey string `json:"verifierKey"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &cp) != nil {
		t.Fatalf("GET /api/ledger/checkpoint: %d %s", status, body)
	}
	if cp.VerifierKey != vkey {
		t.Fatalf("verifierKey %q, the ledger's key is %q", cp.VerifierKey, vkey)
	}
	c, err := integrity.OpenCheckpoint([]byte(cp.Checkpoint), newKeys)
	if err != nil {
		t.Fatalf("right after the rotation the served checkpoint is not signed by the key verifierKey names: %v\n%s", err, cp.Checkpoint)
	}
	if applied := m.Runner.LastApplied(); uint64(c.Size) != applied {
		t.Errorf("the served head signs %d records, the ledger applied %d", c.Size, applied)
	}
	t.Logf("kept head (retired key): %d records; served head (new key): %d records", keptCp.Size, c.Size)

	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		env := map[string]string{cli.EnvToken: testAdmin, cli.EnvAddr: m.URL()}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code := cli.Run(ctx, args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
		return code, stdout.String() + stderr.String()
	}
	both := []string{"--key", retired.VerifierKey(), "--key", vkey}
	if code, out := run(append([]string{"verify", "--server", m.URL(), "--since-checkpoint", kept}, both...)...); code != cli.ExitOK {
		t.Errorf("verify --server --since-checkpoint (the pre-rotation head), both keys: exit %d\n%s", code, out)
	}
	whole := filepath.Join(t.TempDir(), "whole.json")
	if code, out := run("export", "--bundle", whole, "--since", fmt.Sprint(keptCp.Size)); code != cli.ExitOK {
		t.Fatalf("export --bundle --since: exit %d\n%s", code, out)
	}
	if code, out := run(append([]string{"verify", "--bundle", whole, "--since-checkpoint", kept}, both...)...); code != cli.ExitOK {
		t.Errorf("verify --bundle (whole log) --since-checkpoint (the pre-rotation head), both keys: exit %d\n%s", code, out)
	}
	part := filepath.Join(t.TempDir(), "since.json")
	if code, out := run("export", "--bundle", part, "--from-seq", fmt.Sprint(keptCp.Size+1), "--since", fmt.Sprint(keptCp.Size)); code != cli.ExitOK {
		t.Fatalf("export --from-seq %d --since %d: exit %d\n%s", keptCp.Size+1, keptCp.Size, code, out)
	}
	if code, out := run(append([]string{"verify", "--bundle", part, "--since-checkpoint", kept}, both...)...); code != cli.ExitOK {
		t.Errorf("verify --bundle (from the pre-rotation head on) --since-checkpoint, both keys: exit %d\n%s", code, out)
	}
}
