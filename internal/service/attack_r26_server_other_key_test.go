package service

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// An auditor runs verify --server with a key that did not sign the
// server's checkpoint (another ledger's, or a key rotated away): verify
// could not verify (exit 1), and its message must say what it could not
// check: the server's checkpoint. It said "the checkpoint kept beside the
// data dir", a file verify --server never reads, sending the auditor to
// look for it.
func TestVerifyServerWithAnotherKeyNamesTheServersCheckpoint(t *testing.T) {
	m, _ := startLedger(t, t.TempDir(), 3)
	createProjects(t, m, "k", 4)
	waitCheckpoint(t, m, 5)
	_, other, err := note.GenerateKey(nil, "tokenledger")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	env := map[string]string{cli.EnvToken: testAdmin, cli.EnvAddr: m.URL()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, []string{"verify", "--server", m.URL(), "--key", other},
		cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
	t.Logf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	if code != cli.ExitError {
		t.Errorf("verify --server with another key: exit %d, want 1 (could not verify)", code)
	}
	if strings.Contains(stderr.String(), "data dir") || !strings.Contains(stderr.String(), "server") {
		t.Errorf("verify --server with another key says %q: it names a data dir it never read, not the server's checkpoint", stderr.String())
	}
}
