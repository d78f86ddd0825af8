package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
)

// atk-r29: a server (or a proxy in front of it) that echoes the request's
// Authorization header in its error messages, in well-formed JSON (the
// atk-r28 hostile server's messages held control characters, so their
// JSON never parsed and its echo was never printed). The CLI printed the
// message as it came: the caller's own credential on stderr, in CI logs
// (TOKENLEDGER_TOKEN is masked there only as the variable's value,
// not when a program prints it). No answer of a server may make the CLI
// print the credential it sent: verify --server, export --bundle (each
// after waiting out a 503 with Retry-After), token list, audit.
func TestAttackR29EchoedCredentialIsNotPrinted(t *testing.T) {
	const credential = "*:*.r29-credential-canary-0123456789abcdef0123456789"
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusUnauthorized, http.StatusUnprocessableEntity, http.StatusInternalServerError} {
		var n int
		srv := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n++
			auth := r.Header.Get("Authorization")
			w.Header().Set("Content-Type", "application/json")
			if status == http.StatusServiceUnavailable && n%3 == 1 {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"id":"x","name":"Echo ` + auth + `","message":"refused the credential ` + auth + ` (see ` + strings.ToUpper(auth) + `)","details":[]}`))
		}))
		dir := t.TempDir()
		for _, args := range [][]string{
			{"verify", "--server", srv},
			{"export", "--server", srv, "--bundle", filepath.Join(dir, "b.json")},
			{"token", "list", "--server", srv},
			{"audit", "--server", srv},
		} {
			code, out, errOut := runCLIFor(t, 20*time.Second, srv, credential, args...)
			if code == cli.ExitOK {
				t.Errorf("HTTP %d: %v: exit 0", status, args[:2])
			}
			if strings.Contains(out+errOut, credential) || strings.Contains(out+errOut, "r29-credential-canary") {
				t.Errorf("HTTP %d: %v printed the credential the server echoed:\n%s%s", status, args[:2], out, errOut)
			}
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("export left %d files behind", len(ents))
		}
	}
}

// verify --server without --key trusts, and prints, the key the server
// names: a server naming the credential as its key does not get it
// printed either.
func TestAttackR29EchoedCredentialAsTheServersKeyIsNotPrinted(t *testing.T) {
	const credential = "*:*.r29-credential-canary-0123456789abcdef0123456789"
	srv := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"size":1,"root":"","checkpoint":"x","verifierKey":"` + r.Header.Get("Authorization") + `"}`))
	}))
	code, out, errOut := runCLIFor(t, 20*time.Second, srv, credential, "verify", "--server", srv)
	if code == cli.ExitOK || strings.Contains(out+errOut, "r29-credential-canary") {
		t.Errorf("verify --server against a server naming the credential as its key: exit %d\n%s%s", code, out, errOut)
	}
}
