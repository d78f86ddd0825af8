package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// lockedBuffer is a bytes.Buffer that a server goroutine may read while
// the CLI writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// "tokenledger audit --all" follows every page of the trail (issue 14
// sizes the trail at a million events: a thousand pages of 1,000) and
// keeps every page in memory until the last one has come, then prints:
// the whole trail is held at once (gigabytes at a million events), and
// nothing reaches the terminal or the pipe until the end. A server (or a
// trail) with one more page than memory allows ends the CLI with nothing
// printed. Each page must be printed before the next one is asked for.
func TestCLIAuditAllPrintsEachPageBeforeAskingTheNext(t *testing.T) {
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			stdout := &lockedBuffer{}
			var mu sync.Mutex
			printedByPage3 := ""
			server := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				page := 1
				if a := r.URL.Query().Get("after"); a != "" {
					_, _ = fmt.Sscan(a, &page)
					page++
				}
				if page == 3 {
					mu.Lock()
					printedByPage3 = stdout.String()
					mu.Unlock()
				}
				next := fmt.Sprintf("%q", fmt.Sprint(page))
				if page == 3 {
					next = "null"
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = fmt.Fprintf(w, `{"events":[{"seq":%d,"id":"page-%d-event","time":"2026-01-01T00:00:00Z","type":"token.created","kind":"token","aggregateId":"a","actor":{},"via":{},"data":{}}],"next":%s}`,
					page, page, next)
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := []string{"audit", "--all"}
			if format == "json" {
				args = append(args, "--json")
			}
			env := map[string]string{cli.EnvToken: servicetest.AdminSecret, cli.EnvAddr: server}
			code := cli.Run(ctx, args, cli.Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: io.Discard,
				Getenv: func(k string) string { return env[k] }})
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stdout.String())
			}
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(printedByPage3, "token.created") {
				t.Errorf("when the CLI asked for page 3, it had printed nothing of pages 1 and 2 (%q): --all holds the whole trail in memory", printedByPage3)
			}
		})
	}
}
