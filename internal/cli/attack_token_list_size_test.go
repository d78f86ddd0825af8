package cli_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The README's figures are for a ledger with 600,000 live tokens. Its
// GET /api/ledger/tokens (token list) and GET /api/ledger/state (state
// --at) answer every token in one JSON document, ~330 bytes a token (as
// the server writes them): ~72 MB for 220,000. The CLI reads at most 64 MiB
// of any answer and then fails to decode the cut document ("the answer is
// not the JSON expected"), so "tokenledger token list" and "tokenledger
// state" stop working at about 200,000 tokens, a third of the size the
// README measures.
func TestCLITokenListReadsTheListOfALargeLedger(t *testing.T) {
	// 20,000 tokens padded with a field the CLI does not print (as a newer
	// server's fields would be) make the same ~76 MB answer quickly.
	const tokens = 20_000
	pad := strings.Repeat("p", 3500)
	server := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 1<<20)
		defer bw.Flush()
		_, _ = bw.WriteString(`{"lastApplied":1000000,"tokens":[`)
		for i := range tokens {
			if i > 0 {
				_ = bw.WriteByte(',')
			}
			_, _ = fmt.Fprintf(bw, `{"id":"01a24982-446c-75bc-8e17-%012d","name":"checkout-%d","type":"backend","status":"valid",`+
				`"hint":"default:production.…a2f2","environment":"production","projects":["default"],"createdAt":"2026-12-06T03:52:32Z",`+
				`"createdBy":{"kind":"admin-token","id":"3a4a034c-b3fc-5777-8b1c-846fcb881061"},"path":"api","version":1,"pad":"%s"}`, i, i, pad)
		}
		_, _ = bw.WriteString(`]}`)
	}))
	code, out, errOut := runCLI(t, server, servicetest.AdminSecret, "", "token", "list")
	if code != 0 {
		t.Fatalf("exit %d on a list of %d tokens: %s", code, tokens, errOut)
	}
	if got := strings.Count(out, "\n") - 1; got != tokens {
		t.Errorf("%d tokens listed, want %d", got, tokens)
	}
}
