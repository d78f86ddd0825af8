package cli_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// "--json on every command for scripts": tokenledger audit --json re-encodes
// the server's events through a struct that drops the integrity fields
// every page carries (v, fmt, command, prev, hash, key, sig: issue 14 "each
// event as stored … hashes"), so a script cannot check an event's hash
// chain or signature from the CLI's output, and cannot tell two versions of
// an event type apart.
func TestCLIAuditJSONKeepsEveryFieldOfTheEvents(t *testing.T) {
	const page = `{"events":[{"seq":7,"id":"e7","time":"2026-01-01T00:00:00Z","type":"token.created","kind":"token","aggregateId":"a",` +
		`"actor":{"kind":"system","id":"system","name":"system"},"via":{"credentialType":"internal"},"data":{},"v":1,"fmt":2,` +
		`"command":"c7","prev":"prev-hash-7","hash":"hash-7","key":"key-7","sig":"sig-7"}],"next":null,"through":7}`
	server := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, page)
	}))
	code, out, errOut := runCLI(t, server, servicetest.AdminSecret, "", "audit", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, field := range []string{`"prev-hash-7"`, `"hash-7"`, `"sig-7"`, `"key-7"`, `"c7"`, `"fmt"`, `"v"`} {
		if !strings.Contains(out, field) {
			t.Errorf("audit --json dropped %s of the server's event", field)
		}
	}
}
