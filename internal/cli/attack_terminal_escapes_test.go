package cli_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A hostile (or compromised, or mistyped) server answers the CLI's reads
// with terminal control sequences in the fields the CLI prints as a table:
// an OSC that retitles the window, a screen clear and a cursor move that
// overwrite what the user sees ("all tokens valid"), a BEL. The audit table
// and error messages pass through inert(); token list, token get, token
// lookup, state and history print other fields as the server sent them.
func TestCLITablesPrintNoTerminalControlSequencesFromTheServer(t *testing.T) {
	const esc = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1H"
	tok := map[string]any{
		"id": "id" + esc, "name": "name" + esc, "type": "backend" + esc, "status": "valid" + esc,
		"hint": "hint" + esc, "environment": "env" + esc, "projects": []string{"p" + esc},
		"createdAt": "2026-01-01T00:00:00Z", "createdBy": map[string]string{"kind": "user", "id": "u" + esc, "name": "n" + esc},
		"revokedAt": "2026-01-02T00:00:00Z", "revokeReason": "deleted" + esc,
		"owner": map[string]string{"kind": "user" + esc, "id": "o" + esc},
	}
	answers := map[string]any{
		"/api/ledger/tokens":        map[string]any{"tokens": []any{tok}},
		"/api/ledger/tokens/x":      tok,
		"/api/ledger/tokens/lookup": map[string]any{"status": "valid" + esc, "token": tok},
		"/api/ledger/state":         map[string]any{"lastApplied": 1, "tokens": []any{tok}},
		"/api/admin/api-tokens":     map[string]any{"secret": "secret" + esc},
		"/api/ledger/tokens/x/history": map[string]any{
			"chain":  map[string]any{"intact": false, "events": 1, "error": "broken" + esc},
			"events": []any{},
		},
	}
	hostile := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		a, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	}))
	tests := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"token list", "", []string{"token", "list"}},
		{"token get", "", []string{"token", "get", "x"}},
		{"token lookup", "default:development.some-secret-0123456789abcdef\n", []string{"token", "lookup"}},
		{"state --at", "", []string{"state", "--at", "5"}},
		{"token history", "", []string{"token", "history", "x"}},
		{"token create", "", []string{"token", "create", "--name", "n", "--environment", "development", "--project", "default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, hostile, servicetest.AdminSecret, tt.stdin, tt.args...)
			if strings.ContainsAny(out+errOut, "\x1b\x07") {
				t.Errorf("exit %d; the terminal receives the server's control sequences:\nstdout %q\nstderr %q", code, out, errOut)
			}
		})
	}
}
