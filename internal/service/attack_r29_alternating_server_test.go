package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// atk-r29: verify --server and export --bundle, which wait out 503s with
// Retry-After, against a server that (a) alternates "later" and genuine
// answers, (b) after a "later" answers the checkpoint route with an
// older, shorter checkpoint than the auditor kept (a rollback), (c)
// after a "later" answers it with a checkpoint of another ledger's key.
// (a) verifies intact and exports a bundle that verifies; (b) and (c)
// are never intact, print no credential, and leave no bundle file.
func TestAttackR29AlternatingAndRollingBackServer(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	other := servicetest.Start(t, "", nil)
	s.CreateToken("backend", "development")
	stale := s.Must(200, "GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil).Body
	s.CreateToken("backend", "development")
	s.CreateToken("backend", "development")
	s.CatchUp()
	var kept checkpointAnswer
	_ = json.Unmarshal(s.Must(200, "GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil).Body, &kept)
	keptFile := filepath.Join(t.TempDir(), "kept.checkpoint")
	if err := os.WriteFile(keptFile, []byte(kept.Checkpoint), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := other.Must(200, "GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil).Body

	target, _ := url.Parse(s.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := func(t *testing.T, mode string) string {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1)
			later := func() {
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"name":"ServiceUnavailableError","message":"later ` + r.Header.Get("Authorization") + `"}`))
			}
			switch {
			case mode == "alternate" && i%2 == 1:
				later()
			case mode != "alternate" && r.URL.Path == "/api/ledger/checkpoint" && i == 1:
				later()
			case mode == "rollback" && r.URL.Path == "/api/ledger/checkpoint":
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(stale)
			case mode == "foreign" && r.URL.Path == "/api/ledger/checkpoint":
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(foreign)
			default:
				rp.ServeHTTP(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		env := map[string]string{cli.EnvToken: servicetest.AdminSecret}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code := cli.Run(ctx, args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
		out := stdout.String() + stderr.String()
		if strings.Contains(out, servicetest.AdminSecret) || strings.Contains(out, "test-admin-secret") {
			t.Errorf("%v printed the credential", args[:2])
		}
		return code, out
	}

	t.Run("alternate", func(t *testing.T) {
		p := proxy(t, "alternate")
		if code, out := run("verify", "--server", p, "--key", s.VerifierKey(), "--since-checkpoint", keptFile); code != cli.ExitOK || !strings.Contains(out, "intact") {
			t.Errorf("verify through a server alternating 503 and genuine answers: exit %d\n%s", code, out)
		}
		file := filepath.Join(t.TempDir(), "b.json")
		if code, out := run("export", "--server", p, "--bundle", file, "--since", "2"); code != cli.ExitOK {
			t.Fatalf("export: exit %d\n%s", code, out)
		}
		if code, out := run("verify", "--bundle", file, "--key", s.VerifierKey()); code != cli.ExitOK {
			t.Errorf("verify --bundle of the export: exit %d\n%s", code, out)
		}
	})
	for _, mode := range []string{"rollback", "foreign"} {
		t.Run(mode, func(t *testing.T) {
			p := proxy(t, mode)
			code, out := run("verify", "--server", p, "--key", s.VerifierKey(), "--since-checkpoint", keptFile)
			t.Logf("verify (%s): exit %d\n%s", mode, code, out)
			if code == cli.ExitOK || strings.Contains(out, "intact:") {
				t.Errorf("verify through a server answering a %s checkpoint after a 503: exit %d, intact", mode, code)
			}
			dir := t.TempDir()
			code, out = run("export", "--server", p, "--bundle", filepath.Join(dir, "b.json"), "--since", "2")
			t.Logf("export (%s): exit %d\n%s", mode, code, out)
			if mode == "rollback" && code == cli.ExitOK {
				// A rollback's bundle is the genuine server's (its records,
				// under its newest checkpoint, proven from size 2): it
				// verifies, as what it is (a range shorter than the kept
				// checkpoint, which export has no way to know of).
				if c, o := run("verify", "--bundle", filepath.Join(dir, "b.json"), "--key", s.VerifierKey()); c != cli.ExitOK {
					t.Errorf("the bundle exported through the rollback: verify exit %d\n%s", c, o)
				}
			}
		})
	}
}
