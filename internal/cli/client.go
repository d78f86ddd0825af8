package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// APIError is an error answer of the ledger: its status and the message of
// the API's error shape ({"id","name","message","details"}).
type APIError struct {
	Status  int
	Name    string
	Message string
	// RetryAfter is the answer's Retry-After (a 429 or 503), 0 without one.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Name != "" {
		return fmt.Sprintf("%s (HTTP %d %s)", msg, e.Status, e.Name)
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, e.Status)
}

// client talks to one ledger with one credential.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
	// stderr is where getWaiting says that it waits out a Retry-After.
	stderr io.Writer
	// waitLeft is how long getWaiting may still wait in all.
	waitLeft time.Duration
}

// waitBudget is the most one command's getWaiting requests wait out in
// all: a ledger's start (a whole-log check of tens of millions of
// records) fits, a server that answers "later" for ever holds a verify
// or export no longer than this, however many requests it makes.
var waitBudget = 5 * time.Minute

// newClient reads --server / TOKENLEDGER_ADDR and TOKENLEDGER_TOKEN. Errors
// name what the user set, so a typo is found where it was made.
func newClient(cmd *cobra.Command, env *Env) (*client, error) {
	addr, source := DefaultAddr, "the default"
	if v := env.Getenv(EnvAddr); v != "" {
		addr, source = v, EnvAddr
	}
	if f := cmd.Flag("server"); f != nil && f.Changed {
		addr, source = f.Value.String(), "--server"
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, usagef("%s: %q is not an http(s) address such as %s", source, addr, DefaultAddr)
	}
	tok := strings.TrimSpace(env.Getenv(EnvToken))
	if tok == "" {
		return nil, &exitError{ExitAuth, fmt.Errorf("%s is not set: export it with an admin token or a personal access token", EnvToken)}
	}
	stderr := env.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	return &client{base: u, token: tok, http: env.HTTP, stderr: stderr, waitLeft: waitBudget}, nil
}

// getWaiting is a GET that waits out a 429 or 503 naming a Retry-After (see
// getRetrying), saying so on stderr: the ledger's routes answer 503 with
// Retry-After while it is starting (its whole-log check, say), and
// without one once waiting cannot help (its projections stopped on
// evidence of tampering). All of a command's getWaiting requests wait
// waitBudget at most together.
func (c *client) getWaiting(ctx context.Context, path string, out any) error {
	return c.getWithin(ctx, c.stderr, path, out, &c.waitLeft)
}

// do sends a request with the credential and decodes a 2xx JSON answer
// into out (when out is not nil). Other answers become *APIError.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.doHeader(ctx, method, path, body, out)
	return err
}

// doHeader is do that also returns the answer's header.
func (c *client) doHeader(ctx context.Context, method, path string, body, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base.JoinPath(path)
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u = c.base.JoinPath(path[:i])
		u.RawQuery = path[i+1:]
	}
	ctx, idle := watchIdle(ctx)
	defer idle.stop()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", c.token)
	req.Header.Set("Accept", "application/json")
	// Every mutation is JSON, a body-less one included: the API's CSRF
	// defence asks for it.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tokenledger-cli")
	resp, err := c.http.Do(req)
	if err != nil {
		// Not the URL: its path may hold what the user typed (an id, or
		// by mistake a secret).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, c.base.Host, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(idle.body(resp.Body), 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode/100 == 3 {
		return nil, &APIError{Status: resp.StatusCode, Message: "the server answered with a redirect, which is not followed (it would carry your credential elsewhere); point --server or " + EnvAddr + " at the ledger itself"}
	}
	if resp.StatusCode/100 != 2 {
		return nil, apiError(resp, raw)
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return resp.Header, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("the answer is not the JSON expected: %w", err)
	}
	return resp.Header, nil
}

// inert makes a server's text safe to print on a terminal: no control or
// format characters (escape sequences, a forged second line), at most max
// bytes.
// terminal is the command's standard output for text a person reads
// (tables, key: value lines), made inert: a server's fields cannot move the
// cursor, clear the screen, retitle the window or ring the bell. Exports
// and --json output are not passed through it (JSON escapes controls).
func terminal(cmd *cobra.Command) io.Writer { return inertWriter{cmd.OutOrStdout()} }

// inertWriter writes what it is given with every control or format
// character other than a newline or a tab, and every invalid UTF-8 byte,
// replaced by a space. Callers write whole strings (fmt, tabwriter cells),
// so a rune is never split across two writes.
type inertWriter struct{ w io.Writer }

func (w inertWriter) Write(p []byte) (int, error) {
	clean := true
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRune(p[i:])
		if r != '\n' && r != '\t' && (r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return w.w.Write(p)
	}
	var b strings.Builder
	for _, r := range string(p) {
		if r != '\n' && r != '\t' && (r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			r = ' '
		}
		b.WriteRune(r)
	}
	if _, err := io.WriteString(w.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func inert(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
