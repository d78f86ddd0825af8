package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// verify --server without --key trusts the key the server names, and
// says so on stderr ("trusting the key the server names, …"). A hostile
// (or compromised, or mistyped) server names a "key" of terminal control
// sequences: they reached the auditor's terminal raw, before the key was
// even parsed (retitling the window, clearing the screen).
func TestVerifyServerPrintsNoControlSequencesOfTheKeyItNames(t *testing.T) {
	const esc = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1H\u009b2J\u202e"
	hostile := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		if r.URL.Path != "/api/ledger/checkpoint" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"size": 1, "checkpoint": "x" + esc, "verifierKey": "tokenledger+" + esc})
	}))
	code, out, errOut := runCLI(t, hostile, servicetest.AdminSecret, "", "verify", "--server", hostile)
	if code == 0 {
		t.Errorf("verify: exit 0 against a server naming no key")
	}
	for _, r := range out + errOut {
		if r == 0x1b || r == 0x07 || r == 0x9b || r == 0x202e {
			t.Fatalf("exit %d; the terminal receives the server's %U:\nstdout %q\nstderr %q", code, r, out, errOut)
		}
	}
}
