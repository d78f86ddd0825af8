package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// ledgerToken is a token as the ledger-native routes describe it (never
// with its secret).
type ledgerToken struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	Status      string     `json:"status"`
	Hint        string     `json:"hint"`
	Owner       *owner     `json:"owner,omitempty"`
	Environment string     `json:"environment,omitempty"`
	Projects    []string   `json:"projects,omitempty"`
	AllProjects bool       `json:"allProjects,omitempty"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	CreatedBy   struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
		Name string `json:"name,omitempty"`
	} `json:"createdBy"`
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
	Reason    string     `json:"revokeReason,omitempty"`
}

type owner struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

func (t ledgerToken) projects() string {
	if t.AllProjects {
		return "*"
	}
	return strings.Join(t.Projects, ",")
}

func (t ledgerToken) expires() string {
	if t.ExpiresAt == nil {
		return "never"
	}
	return t.ExpiresAt.UTC().Format(time.RFC3339)
}

func newToken(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "Create, list, inspect, look up, revoke tokens and change their expiry",
	}
	c.AddCommand(newTokenCreate(env), newTokenList(env), newTokenGet(env), newTokenLookup(env),
		newTokenRevoke(env), newTokenExpiry(env), newTokenHistory(env))
	return c
}

// jsonOut reports whether --json was given.
func jsonOut(cmd *cobra.Command) bool {
	f := cmd.Flag("json")
	return f != nil && f.Value.String() == "true"
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// parseExpiry reads "never", an RFC 3339 time, or a duration from now
// such as 720h or 30d.
func parseExpiry(s string, now time.Time) (*time.Time, error) {
	switch {
	case s == "" || s == "never":
		return nil, nil
	case strings.HasSuffix(s, "d"):
		var n int
		if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && n > 0 && fmt.Sprintf("%dd", n) == s {
			t := now.AddDate(0, 0, n).UTC().Truncate(time.Second)
			return &t, nil
		}
	default:
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return &t, nil
		}
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			t := now.Add(d).UTC().Truncate(time.Second)
			return &t, nil
		}
	}
	return nil, usagef("--expires: %q is not \"never\", an RFC 3339 time (2027-01-01T00:00:00Z) or a duration (720h, 30d)", s)
}

func newTokenCreate(env *Env) *cobra.Command {
	var typ, name, environment, expires string
	var projects []string
	c := &cobra.Command{
		Use:   "create",
		Short: "Create a client (backend) or frontend token; its secret is printed this once",
		Example: `  tokenledger token create --name checkout --type backend --environment production --project default
  tokenledger token create --name web --type frontend --environment development --project '*' --expires 30d --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			if environment == "" {
				return usagef("--environment is required")
			}
			if len(projects) == 0 {
				return usagef("--project is required (repeat it, or give '*' for all projects)")
			}
			exp, err := parseExpiry(expires, time.Now())
			if err != nil {
				return err
			}
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			body := map[string]any{"tokenName": name, "type": typ, "environment": environment, "projects": projects}
			if exp != nil {
				body["expiresAt"] = exp.Format(time.RFC3339)
			}
			var created struct {
				Secret string `json:"secret"`
			}
			hdr, err := cl.doHeader(cmd.Context(), "POST", "/api/admin/api-tokens", body, &created)
			if err != nil {
				return err
			}
			// The create answer follows Unleash's closed schema, which has
			// no id; its Location names the token's record. The secret is
			// printed whatever else happens: it is never shown again.
			id := strings.TrimPrefix(hdr.Get("Location"), "/api/ledger/tokens/")
			var tok *ledgerToken
			if id != "" {
				var t ledgerToken
				if err := cl.do(cmd.Context(), "GET", "/api/ledger/tokens/"+url.PathEscape(id), nil, &t); err == nil {
					tok = &t
				}
			}
			if jsonOut(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]any{"secret": created.Secret, "id": id, "token": tok})
			}
			w := terminal(cmd)
			fmt.Fprintln(w, "secret:", created.Secret)
			if id != "" {
				fmt.Fprintln(w, "id:    ", id)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "The secret is shown only this once: store it now.")
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "token name (required)")
	c.Flags().StringVar(&typ, "type", "backend", "backend (client) or frontend")
	c.Flags().StringVar(&environment, "environment", "", "environment (required)")
	c.Flags().StringArrayVar(&projects, "project", nil, "project id, repeatable; '*' for all projects (required)")
	c.Flags().StringVar(&expires, "expires", "never", `"never", an RFC 3339 time, or a duration such as 720h or 30d`)
	return c
}

func newTokenList(env *Env) *cobra.Command {
	var typ, status string
	c := &cobra.Command{
		Use:   "list",
		Short: "List tokens (status, type, scope, expiry, hint; never secrets)",
		Example: `  tokenledger token list
  tokenledger token list --status valid --type personal --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			// Streamed: a ledger of a million tokens is never held whole.
			keep := func(t ledgerToken) bool {
				return (typ == "" || t.Type == typ) && (status == "" || t.Status == status)
			}
			if jsonOut(cmd) {
				js := &jsonDoc{w: cmd.OutOrStdout()}
				js.head("{\n  \"tokens\": [")
				if _, err := streamTokens(cmd.Context(), cl, cmd.ErrOrStderr(), "/api/ledger/tokens", func(t ledgerToken) error {
					if keep(t) {
						js.add(t)
					}
					return js.err
				}); err != nil {
					return err
				}
				return js.finish("\n}\n")
			}
			tw := tabwriter.NewWriter(terminal(cmd), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tNAME\tSTATUS\tENVIRONMENT\tPROJECTS\tEXPIRES\tHINT")
			n := 0
			if _, err := streamTokens(cmd.Context(), cl, cmd.ErrOrStderr(), "/api/ledger/tokens", func(t ledgerToken) error {
				if !keep(t) {
					return nil
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Type, t.Name, t.Status,
					t.Environment, t.projects(), t.expires(), t.Hint)
				if n++; n%1000 == 0 {
					return tw.Flush()
				}
				return nil
			}); err != nil {
				return err
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&typ, "type", "", "only tokens of this type (client, backend, frontend, admin, personal, service-account)")
	c.Flags().StringVar(&status, "status", "", "only tokens with this status (valid, revoked, expired)")
	return c
}

func printToken(w io.Writer, t ledgerToken) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("id", t.ID)
	row("name", t.Name)
	row("type", t.Type)
	row("status", t.Status)
	row("hint", t.Hint)
	if t.Owner != nil {
		row("owner", t.Owner.Kind+" "+t.Owner.ID)
	}
	row("environment", t.Environment)
	row("projects", t.projects())
	row("expires", t.expires())
	row("created", t.CreatedAt.UTC().Format(time.RFC3339))
	row("created by", strings.TrimSpace(t.CreatedBy.Kind+" "+t.CreatedBy.ID+" "+t.CreatedBy.Name))
	if t.RevokedAt != nil {
		row("revoked", t.RevokedAt.UTC().Format(time.RFC3339)+" ("+t.Reason+")")
	}
	return tw.Flush()
}

func newTokenGet(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:     "get ID",
		Short:   "Show one token by its id",
		Example: `  tokenledger token get 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b --json`,
		Args:    exactArgs(1, "a token id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			var t ledgerToken
			if err := cl.do(cmd.Context(), "GET", "/api/ledger/tokens/"+url.PathEscape(args[0]), nil, &t); err != nil {
				return err
			}
			if jsonOut(cmd) {
				return printJSON(cmd.OutOrStdout(), t)
			}
			return printToken(terminal(cmd), t)
		},
	}
}

type lookupResult struct {
	Status string       `json:"status"`
	Token  *ledgerToken `json:"token,omitempty"`
}

func lookup(ctx context.Context, cl *client, secret string) (lookupResult, error) {
	var res lookupResult
	err := cl.do(ctx, "POST", "/api/ledger/tokens/lookup", map[string]string{"secret": secret}, &res)
	return res, err
}

func newTokenLookup(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "lookup",
		Short: "Say what a secret read from standard input is (it is never printed back)",
		Long: `Reads one secret from standard input and says whether it is valid, revoked, expired
or unknown, and which token it is. The secret travels in the request body, never in a URL,
and is never printed. Exit code 6 when the secret is not a valid token.`,
		Example: `  tokenledger token lookup < secret.txt
  pbpaste | tokenledger token lookup --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc := bufio.NewScanner(cmd.InOrStdin())
			sc.Buffer(make([]byte, 0, 4096), 64<<10)
			var secret string
			if sc.Scan() {
				secret = strings.TrimSpace(sc.Text())
			}
			if err := sc.Err(); err != nil {
				return fmt.Errorf("reading the secret from standard input: %w", err)
			}
			if secret == "" {
				return usagef("no secret on standard input")
			}
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			res, err := lookup(cmd.Context(), cl, secret)
			if err != nil {
				return err
			}
			if jsonOut(cmd) {
				if err := printJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(terminal(cmd), "status:", res.Status)
				if res.Token != nil {
					if err := printToken(terminal(cmd), *res.Token); err != nil {
						return err
					}
				}
			}
			if res.Status != "valid" {
				return &exitError{ExitBadSecret, fmt.Errorf("the secret is %s", res.Status)}
			}
			return nil
		},
	}
}

// apiTokenPath is the management route of a token the CLI can change:
// client, backend, frontend and admin tokens.
func apiTokenPath(ctx context.Context, cl *client, id string) (string, error) {
	var t ledgerToken
	if err := cl.do(ctx, "GET", "/api/ledger/tokens/"+url.PathEscape(id), nil, &t); err != nil {
		return "", err
	}
	switch t.Type {
	case "personal":
		return "", usagef("%s is a personal access token: its owner revokes it (DELETE /api/admin/user/tokens/{id}), an admin through /api/admin/user-admin/{userId}/tokens/{tokenId}", id)
	case "service-account":
		return "", usagef("%s is a service-account token: change it through /api/admin/service-account/{id}/token/{tokenId}", id)
	}
	return "/api/admin/api-tokens/" + url.PathEscape(id), nil
}

func newTokenRevoke(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a client, backend, frontend or admin token (recorded as token.revoked)",
		Example: `  tokenledger token revoke 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b`,
		Args:    exactArgs(1, "a token id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			path, err := apiTokenPath(cmd.Context(), cl, args[0])
			if err != nil {
				return err
			}
			if err := cl.do(cmd.Context(), "DELETE", path, nil, nil); err != nil {
				return err
			}
			if jsonOut(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]string{"id": args[0], "status": "revoked"})
			}
			fmt.Fprintln(cmd.OutOrStdout(), "revoked", args[0])
			return nil
		},
	}
}

func newTokenExpiry(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "expiry ID (never | RFC3339 | DURATION)",
		Short: "Change when a token expires (recorded as token.expiry-changed)",
		Example: `  tokenledger token expiry 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b 2027-01-01T00:00:00Z
  tokenledger token expiry 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b 30d`,
		Args: exactArgs(2, "a token id and an expiry"),
		RunE: func(cmd *cobra.Command, args []string) error {
			exp, err := parseExpiry(args[1], time.Now())
			if err != nil {
				return err
			}
			if exp == nil {
				return usagef("the token API has no way to remove an expiry; give a time or a duration")
			}
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			path, err := apiTokenPath(cmd.Context(), cl, args[0])
			if err != nil {
				return err
			}
			if err := cl.do(cmd.Context(), "PUT", path, map[string]string{"expiresAt": exp.Format(time.RFC3339)}, nil); err != nil {
				return err
			}
			if jsonOut(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]string{"id": args[0], "expiresAt": exp.Format(time.RFC3339)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s now expires %s\n", args[0], exp.Format(time.RFC3339))
			return nil
		},
	}
}

// exactArgs is cobra.ExactArgs with a message that says what is missing,
// as a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}
