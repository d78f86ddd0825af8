package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// A busy ledger serves its tree head, which moves with every applied
// event, as its checkpoint. While 16 writers append, an auditor asks for
// the checkpoint again and again (its size never goes back, it is signed
// by the key verifierKey names, over the tree the proofs use), verifies
// the server with a head kept a moment before, and exports and verifies
// bundles: the whole log, and an incremental range from a kept head on
// (export --from-seq K+1 --since K). Every verdict is intact, no route
// answers 5xx or a 409 the CLI does not retry, and -race sees nothing.
func TestABusyLedgerServesItsMovingHeadAndEveryVerdictIsIntact(t *testing.T) {
	m, _ := startLedger(t, filepath.Join(t.TempDir(), "data"), 50, func(c *Config) { c.CheckpointInterval = 100 * time.Millisecond })
	createProjects(t, m, "warm", 5)
	vkey := m.VerifierKey()
	keys, err := integrity.Verifiers(vkey)
	if err != nil {
		t.Fatal(err)
	}
	checkpoint := func() (integrity.Checkpoint, string) {
		t.Helper()
		status, body := get(t, m, "/api/ledger/checkpoint", testAdmin)
		if status != http.StatusOK {
			t.Fatalf("GET /api/ledger/checkpoint: %d %s", status, body)
		}
		var cp struct {
			Size        int64  `json:"size"`
			Checkpoint  string `json:"checkpoint"`
			VerifierKey string `json:"verifierKey"`
		}
		if err := json.Unmarshal(body, &cp); err != nil {
			t.Fatal(err)
		}
		c, err := integrity.OpenCheckpoint([]byte(cp.Checkpoint), keys)
		if err != nil || c.Size != cp.Size || cp.VerifierKey != vkey {
			t.Fatalf("the served checkpoint does not open with the key it names (%v), size %d vs %d", err, c.Size, cp.Size)
		}
		return c, cp.Checkpoint
	}
	_, first := checkpoint()
	keptFirst := filepath.Join(t.TempDir(), "first.checkpoint")
	if err := os.WriteFile(keptFirst, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var writers sync.WaitGroup
	var failed atomic.Int64
	var wrote atomic.Int64
	stop := make(chan struct{})
	for w := range 16 {
		writers.Go(func() {
			for i := 0; i < 60; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"id":"busy-%d-%d","name":"P"}`, w, i)
				req, _ := http.NewRequestWithContext(ctx, "POST", m.URL()+"/api/admin/projects", strings.NewReader(body))
				req.Header.Set("Authorization", testAdmin)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					failed.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					failed.Add(1)
				} else {
					wrote.Add(1)
				}
			}
		})
	}
	defer func() { close(stop); writers.Wait() }()

	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		env := map[string]string{cli.EnvToken: testAdmin, cli.EnvAddr: m.URL()}
		code := cli.Run(ctx, args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
		return code, stdout.String() + stderr.String()
	}

	// The served checkpoint never goes back, and is the tree's root.
	var prev int64
	for range 30 {
		c, _ := checkpoint()
		if c.Size < prev {
			t.Fatalf("the served checkpoint went back from %d to %d records", prev, c.Size)
		}
		if root, err := m.Integrity.Tree().Root(c.Size); err != nil || root != c.Root {
			t.Fatalf("the served checkpoint of %d records signs %v, the tree has %v (%v)", c.Size, c.Root, root, err)
		}
		prev = c.Size
		time.Sleep(5 * time.Millisecond)
	}

	for round := range 3 {
		kc, kept := checkpoint()
		keptFile := filepath.Join(t.TempDir(), fmt.Sprintf("kept-%d.checkpoint", round))
		if err := os.WriteFile(keptFile, []byte(kept), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, out := run("verify", "--server", m.URL(), "--key", vkey, "--since-checkpoint", keptFirst); code != cli.ExitOK {
			t.Fatalf("round %d: verify --server --since-checkpoint (a head kept earlier) on a busy ledger: exit %d\n%s", round, code, out)
		}
		whole := filepath.Join(t.TempDir(), fmt.Sprintf("whole-%d.json", round))
		if code, out := run("export", "--bundle", whole, "--since", fmt.Sprint(kc.Size)); code != cli.ExitOK {
			t.Fatalf("round %d: export --bundle --since %d: exit %d\n%s", round, kc.Size, code, out)
		}
		if code, out := run("verify", "--bundle", whole, "--key", vkey, "--since-checkpoint", keptFile); code != cli.ExitOK {
			t.Fatalf("round %d: verify --bundle (whole log) --since-checkpoint: exit %d\n%s", round, code, out)
		}
		// The incremental audit: from the kept head on, once more events came.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if c, _ := checkpoint(); c.Size > kc.Size {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no event after the kept head of %d records", round, kc.Size)
			}
		}
		part := filepath.Join(t.TempDir(), fmt.Sprintf("since-%d.json", round))
		if code, out := run("export", "--bundle", part, "--from-seq", fmt.Sprint(kc.Size+1), "--since", fmt.Sprint(kc.Size)); code != cli.ExitOK {
			t.Fatalf("round %d: export --from-seq %d --since %d: exit %d\n%s", round, kc.Size+1, kc.Size, code, out)
		}
		if code, out := run("verify", "--bundle", part, "--key", vkey, "--since-checkpoint", keptFile); code != cli.ExitOK {
			t.Fatalf("round %d: verify --bundle (from the kept head on) --since-checkpoint: exit %d\n%s", round, code, out)
		}
	}
	close(stop)
	writers.Wait()
	stop = make(chan struct{})
	if n := failed.Load(); n > 0 {
		t.Errorf("%d writes failed (%d succeeded) while the auditor read", n, wrote.Load())
	}
	t.Logf("%d writes; last served checkpoint %d records", wrote.Load(), prev)
}
