package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// capture is a real HTTP server on loopback that records what reaches it:
// the place a redirect sends the CLI to.
type capture struct {
	url  string
	mu   sync.Mutex
	seen []capturedRequest
}

type capturedRequest struct {
	Method, Path, Authorization string
	Body                        []byte
}

func (c *capture) requests() []capturedRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]capturedRequest(nil), c.seen...)
}

// startLoopbackServer serves h on host:0 (host must be a loopback name or
// address) and returns its base URL, written with host.
func startLoopbackServer(t *testing.T, host string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "http://" + net.JoinHostPort(host, port)
}

func startCapture(t *testing.T, host string) *capture {
	t.Helper()
	c := &capture{}
	c.url = startLoopbackServer(t, host, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		c.mu.Lock()
		c.seen = append(c.seen, capturedRequest{r.Method, r.URL.Path, r.Header.Get("Authorization"), b})
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"tokens":[],"status":"valid","events":[]}`)
	}))
	return c
}

// runCLI runs the command line in-process against addr with the default
// HTTP client (what a user gets), bounded by a context.
func runCLI(t *testing.T, addr, token, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	env := map[string]string{cli.EnvToken: token, cli.EnvAddr: addr}
	code := cli.Run(ctx, args, cli.Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return code, out.String(), errb.String()
}

// A server the CLI is pointed at (a mistyped address, a proxy, a ledger
// that was moved) answers with a redirect to another origin: the CLI must
// not hand that origin the credential of TOKENLEDGER_TOKEN, nor the secret
// "token lookup" read from standard input. Go's http.Client keeps the
// Authorization header on a redirect to the same host name (any port, and
// from https down to http) and re-sends a request body on 307/308 to any
// host.
func TestCLIDoesNotForwardSecretsOnRedirect(t *testing.T) {
	const credential = "*:*.cli-credential-canary-0123456789abcdef0123456789"
	const looked = "default:production.lookup-secret-canary-0123456789abcdef01234567"
	tests := []struct {
		name       string
		targetHost string // host name of the redirect's target
		status     int
		stdin      string
		args       []string
	}{
		{"token list, 307 to another port", "127.0.0.1", http.StatusTemporaryRedirect, "", []string{"token", "list"}},
		{"token list, 302 to another port", "127.0.0.1", http.StatusFound, "", []string{"token", "list"}},
		{"token list, 301 to another port", "127.0.0.1", http.StatusMovedPermanently, "", []string{"token", "list"}},
		{"audit, 308 to another port", "127.0.0.1", http.StatusPermanentRedirect, "", []string{"audit"}},
		{"token lookup, 307 to another port", "127.0.0.1", http.StatusTemporaryRedirect, looked + "\n", []string{"token", "lookup"}},
		{"token lookup, 307 to another host", "localhost", http.StatusTemporaryRedirect, looked + "\n", []string{"token", "lookup"}},
		{"token lookup, 308 to another host", "localhost", http.StatusPermanentRedirect, looked + "\n", []string{"token", "lookup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := startCapture(t, tt.targetHost)
			hostile := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.url+r.URL.RequestURI(), tt.status)
			}))
			code, out, errOut := runCLI(t, hostile, credential, tt.stdin, tt.args...)
			for _, got := range target.requests() {
				if strings.Contains(got.Authorization, credential) {
					t.Errorf("the redirect's target %s received TOKENLEDGER_TOKEN in Authorization (%s %s); exit %d", target.url, got.Method, got.Path, code)
				}
				if bytes.Contains(got.Body, []byte(looked)) {
					t.Errorf("the redirect's target %s received the looked-up secret in the body of %s %s; exit %d", target.url, got.Method, got.Path, code)
				}
			}
			if strings.Contains(out+errOut, credential) || strings.Contains(out+errOut, looked) {
				t.Errorf("the CLI printed a secret:\n%s\n%s", out, errOut)
			}
		})
	}
}

// "tokenledger audit --all" follows the answer's cursor. A server whose
// cursor never advances (hostile, or a bug) must not keep the CLI asking
// the same page for ever while it piles the repeated events up in memory.
func TestCLIAuditAllStopsWhenTheCursorDoesNotAdvance(t *testing.T) {
	const budget = 200 // the server stops answering pages after this many
	var pages atomic.Int64
	hostile := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pages.Add(1) > budget {
			http.Error(w, `{"name":"InternalError","message":"budget spent"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"events":[{"seq":7,"id":"e","type":"token.created","kind":"token","aggregateId":"a","actor":{},"via":{},"data":{}}],"next":7}`)
	}))
	code, _, errOut := runCLI(t, hostile, servicetest.AdminSecret, "", "audit", "--all", "--json")
	if n := pages.Load(); n > 2 {
		t.Fatalf("audit --all asked for the same page %d times (the server's cursor stayed at 7); exit %d: %s", n, code, errOut)
	}
}

// An error answer's message is the server's text. A hostile server must
// not be able to write terminal control sequences into the user's
// terminal through it, nor megabytes of text.
func TestCLIServerErrorMessagesAreBoundedAndInert(t *testing.T) {
	tests := []struct {
		name    string
		message string
	}{
		{"terminal escape", "access denied\x1b]0;pwned\x07\x1b[2J\x1b[1;1Hall tokens revoked"},
		{"fake second line", "access denied\ntokenledger: the ledger is unreachable, export TOKENLEDGER_ADDR=http://evil.example"},
		{"one mebibyte", strings.Repeat("A", 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hostile := startLoopbackServer(t, "127.0.0.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				msg, _ := json.Marshal(tt.message)
				_, _ = fmt.Fprintf(w, `{"name":"NoAccessError","message":%s}`, msg)
			}))
			code, _, errOut := runCLI(t, hostile, servicetest.AdminSecret, "", "token", "list")
			if code != cli.ExitAuth {
				t.Fatalf("exit %d, want %d", code, cli.ExitAuth)
			}
			if strings.ContainsAny(errOut, "\x1b\x07") || strings.Count(errOut, "\n") > 1 || len(errOut) > 4096 {
				t.Fatalf("stderr carries the server's text as is (%d bytes, %d lines): %.200q", len(errOut), strings.Count(errOut, "\n"), errOut)
			}
		})
	}
}
