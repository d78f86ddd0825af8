package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// runCLIFor is runCLI with a deadline of its own (the waits below take
// half a minute).
func runCLIFor(t *testing.T, d time.Duration, addr, token string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb bytes.Buffer
	env := map[string]string{cli.EnvToken: token, cli.EnvAddr: addr}
	code := cli.Run(ctx, args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// verify --server and export --bundle wait out a 503 naming a Retry-After
// (atk-r28's change). A hostile server answering every request so, for
// ever, with terminal escapes and the caller's own credential in its
// message: each command gives up after maxRetries waits (about half a
// minute at one second), exits non-zero, prints none of the server's
// control characters nor the credential, and export leaves no file (nor
// its temporary file) behind.
func TestAttackR28HostileServerCannotHoldTheAuditorCLI(t *testing.T) {
	const credential = "*:*.r28-credential-canary-0123456789abcdef0123456789"
	const esc = "\x1b]0;pwned\x07\x1b[2J\u009b2J\u202e"
	var requests atomic.Int64
	var exportPhase atomic.Bool
	hostile := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/ledger/checkpoint" && exportPhase.Load() {
			_, _ = w.Write([]byte(`{"size":5}`))
			return
		}
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"name":"ServiceUnavailableError` + esc + `","message":"starting ` + esc + ` ` + r.Header.Get("Authorization") + `"}`))
	}))

	dir := t.TempDir()
	bundle := filepath.Join(dir, "ledger.bundle.json")
	type outcome struct {
		code        int
		out, errOut string
		took        time.Duration
	}
	run := func(args ...string) outcome {
		start := time.Now()
		code, out, errOut := runCLIFor(t, 2*time.Minute, hostile, credential, args...)
		return outcome{code, out, errOut, time.Since(start)}
	}
	var got [2]outcome
	var wg sync.WaitGroup
	wg.Go(func() { got[0] = run("verify", "--server", hostile) })
	wg.Wait()
	verifyRequests := requests.Swap(0)
	exportPhase.Store(true)
	wg.Go(func() { got[1] = run("export", "--server", hostile, "--bundle", bundle) })
	wg.Wait()
	exportRequests := requests.Load()

	for i, o := range got {
		name := []string{"verify --server", "export --bundle"}[i]
		t.Logf("%s: exit %d after %s\nstdout %q\nstderr %q", name, o.code, o.took.Round(time.Millisecond), o.out, o.errOut)
		if o.code == cli.ExitOK {
			t.Errorf("%s: exit 0 against a server that never answered", name)
		}
		if o.took > 45*time.Second {
			t.Errorf("%s held for %s by a server asking to wait 1 s each time", name, o.took)
		}
		if strings.Contains(o.out+o.errOut, credential) || strings.Contains(o.out+o.errOut, "r28-credential-canary") {
			t.Errorf("%s printed the credential the server echoed", name)
		}
		for _, r := range o.out + o.errOut {
			if r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
				t.Errorf("%s: the terminal receives the server's %U", name, r)
				break
			}
		}
	}
	if verifyRequests > 31 || exportRequests > 32 {
		t.Errorf("requests: verify %d, export %d; want at most 1+30 retries of one request (export: and its checkpoint)", verifyRequests, exportRequests)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		t.Errorf("export left %s behind", e.Name())
	}
}

// A Retry-After that is not a small whole number of seconds (0, negative,
// a date, fractional, beyond a minute, overflowing) is not waited out:
// one request, an error at once.
func TestAttackR28OddRetryAfterIsNotWaitedOut(t *testing.T) {
	for _, ra := range []string{"0", "-1", "1.5", "61", "3600", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999", "1, 1"} {
		t.Run(ra, func(t *testing.T) {
			var requests atomic.Int64
			hostile := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header()["Retry-After"] = []string{ra}
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			start := time.Now()
			code, _, errOut := runCLIFor(t, 20*time.Second, hostile, "*:*.x-0123456789abcdef0123456789", "verify", "--server", hostile)
			if n := requests.Load(); code == cli.ExitOK || n > 2 || time.Since(start) > 3*time.Second {
				t.Errorf("Retry-After %q: exit %d, %d requests in %s, stderr %q; want one request and an error at once", ra, code, n, time.Since(start), errOut)
			}
		})
	}
}
