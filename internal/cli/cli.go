// Package cli is tokenledger's command line: the serve command that runs
// the service, and client commands that talk to a running ledger over its
// HTTP API, the way the vault and gh commands do.
//
// Every client command reads the server address from --server or
// TOKENLEDGER_ADDR and the credential from TOKENLEDGER_TOKEN only (a flag
// would land in shell history). Every command takes --json for scripts;
// without it, people get tables. Exit codes are stable (see ExitCode).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes a script can rely on.
const (
	ExitOK        = 0 // done
	ExitError     = 1 // the command failed (server error, ledger unavailable, I/O)
	ExitUsage     = 2 // bad flags or arguments; nothing was sent
	ExitAuth      = 3 // no, unknown or insufficient credential (HTTP 401/403)
	ExitNotFound  = 4 // the token or route does not exist (HTTP 404)
	ExitConflict  = 5 // the request conflicts with the ledger's state (HTTP 409/422)
	ExitBadSecret = 6 // token lookup: the secret is not valid (unknown, revoked, expired)
)

// Env is what the commands need from the process, so tests can run them
// in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Serve runs "tokenledger serve" with its own flag parsing (the
	// service's flags live with its configuration).
	Serve func(ctx context.Context, args []string) error
	// Bench runs "tokenledger bench" with its own flag parsing (it starts
	// the service and uses its packages, which import this one).
	Bench func(ctx context.Context, args []string) error
	// HTTP is the client for the ledger's API (default: none of its own
	// timeout; each request's answer must begin, and its body keep
	// flowing, within 30 s: see idleTimeout).
	HTTP *http.Client
	// ReadDataDir reads a data dir's stream for verify --data-dir without
	// changing it: setup first, with what it found, then fn for each
	// stored record in order. It may end with an *integrity.Finding for
	// tampering only the store shows (a record stored under a subject
	// other than its event's), after fn had that record; verify reports
	// it unless the records show tampering at or before it.
	ReadDataDir func(ctx context.Context, dir string, setup func(DataDir) error, fn func(seq uint64, data []byte) error) (DataDir, error)
}

// Environment variables of the client commands.
const (
	EnvAddr  = "TOKENLEDGER_ADDR"
	EnvToken = "TOKENLEDGER_TOKEN"
)

// DefaultAddr is where "tokenledger serve" listens by default.
const DefaultAddr = "http://127.0.0.1:4242"

// usageError marks errors made before anything was sent.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// exitError carries an exit code chosen by a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run runs the command line args (without the program name) and returns
// the process's exit code. Errors are printed to env.Stderr.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = os.Stdin
	}
	if env.Stdout == nil {
		env.Stdout = os.Stdout
	}
	if env.Stderr == nil {
		env.Stderr = os.Stderr
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.HTTP == nil {
		// No overall Timeout: it would cut a streamed export that flows
		// for longer (a million-event trail takes tens of seconds); each
		// request has an idle bound instead (watchIdle).
		env.HTTP = &http.Client{}
	}
	// Never follow a redirect: Go's client would re-send the credential
	// (and a lookup's body, which holds a secret) to whatever address the
	// answer names. The redirect is reported as the answer instead.
	hc := *env.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	env.HTTP = &hc
	root := newRoot(&env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(inertWriter{env.Stderr}, "tokenledger:", withoutCredential(err.Error(), env.Getenv(EnvToken)))
	return ExitCode(err)
}

// withoutCredential is s with the caller's credential (tok), and the
// secret after its last dot, replaced: a server or proxy that echoes the
// Authorization header in its error message (or names it as its key)
// does not get the CLI to print it, on a terminal or in a CI log
// (atk-r29).
func withoutCredential(s, tok string) string {
	tok = strings.TrimSpace(tok)
	if len(tok) < 8 {
		return s
	}
	parts := []string{tok}
	if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i-1 >= 16 {
		parts = append(parts, tok[i+1:])
	}
	for _, p := range parts {
		for _, v := range []string{p, strings.ToLower(p), strings.ToUpper(p)} {
			s = strings.ReplaceAll(s, v, "[your credential]")
		}
	}
	return s
}

// ExitCode maps an error of Run's commands to the process exit code.
func ExitCode(err error) int {
	var ee *exitError
	var ue *usageError
	var ae *APIError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ae):
		switch ae.Status {
		case http.StatusUnauthorized, http.StatusForbidden:
			return ExitAuth
		case http.StatusNotFound:
			return ExitNotFound
		case http.StatusConflict, http.StatusUnprocessableEntity:
			return ExitConflict
		case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusRequestEntityTooLarge:
			return ExitUsage
		}
	}
	return ExitError
}

func newRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "tokenledger",
		Short: "An audit-first, event-sourced ledger of API tokens",
		Long: `tokenledger runs the ledger (serve) and talks to a running one.

Client commands read the server from --server or ` + EnvAddr + ` (default ` + DefaultAddr + `)
and the credential from ` + EnvToken + ` (an admin token or a PAT; never a flag, so it stays
out of shell history).

Exit codes: 0 done, 1 failed, 2 usage, 3 not authorised, 4 not found, 5 conflict,
6 token lookup found no valid token.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("server", "", "ledger address (env "+EnvAddr+", default "+DefaultAddr+")")
	root.PersistentFlags().Bool("json", false, "print JSON instead of tables")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.AddCommand(newServe(env), newVersion(env), newToken(env), newAudit(env), newHistory(env), newState(env), newWatch(env))
	root.AddCommand(newVerify(env), newExport(env), newBench(env))
	return root
}

func newServe(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the ledger: embedded NATS JetStream, projections and the HTTP API",
		Long: `Run the ledger. With no flags it keeps its data in ./data, runs an embedded NATS
JetStream server and serves the API on 127.0.0.1:4242. Every flag has a TOKENLEDGER_*
environment twin; "tokenledger serve -h" lists them.`,
		Example:            "  INIT_ADMIN_API_TOKENS='*:*.<48 random characters>' tokenledger serve --data-dir /var/lib/tokenledger",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if env.Serve == nil {
				return errors.New("serve is not available in this build")
			}
			return env.Serve(cmd.Context(), args)
		},
	}
}
