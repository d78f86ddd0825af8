package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// "tokenledger audit --csv > trail.csv" streams the server's export, which
// the README sizes at 16k–105k events/s: a million-event trail takes tens
// of seconds. The CLI's default HTTP client has a 30 s Timeout, which
// covers reading the whole body, so any export that streams for longer than
// 30 s is cut ("the export was cut short") however steadily it flows. Here
// a server streams an export steadily for ~33 s (a row every 250 ms); the
// CLI must write every row and succeed.
func TestCLIStreamedExportIsNotCutAfterThirtySeconds(t *testing.T) {
	const rows, every = 132, 250 * time.Millisecond
	server := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("X-Ledger-Sequence-Range", fmt.Sprintf("1-%d", rows))
		w.WriteHeader(http.StatusOK)
		f := w.(http.Flusher)
		_, _ = fmt.Fprint(w, "\"seq\",\"type\"\r\n")
		f.Flush()
		for i := 1; i <= rows; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(every):
			}
			if _, err := fmt.Fprintf(w, "\"%d\",\"token.created\"\r\n", i); err != nil {
				return
			}
			f.Flush()
		}
	}))
	// runCLI's own bound (20 s) is shorter than the export: a bound of 90 s.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	env := map[string]string{cli.EnvToken: servicetest.AdminSecret, cli.EnvAddr: server}
	code := cli.Run(ctx, []string{"audit", "--csv"}, cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] }})
	out, errOut := stdout.String(), stderr.String()
	if got := strings.Count(out, "\r\n") - 1; code != 0 || got != rows {
		t.Fatalf("exit %d, %d of %d rows written; stderr: %s", code, got, rows, errOut)
	}
}
