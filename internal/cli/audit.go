package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// The audit trail from a terminal: tokenledger audit (every filter of GET
// /api/ledger/events as a flag; a table, --json, or the server's CSV and
// OCSF exports streamed as they come), tokenledger history, and
// tokenledger state at a time or sequence (one token with --token).

// maxRetries bounds how often one request is sent again after a 429 or
// 503 with Retry-After (each read of the trail spends the caller's
// mutation budget, so --all over many pages meets it).
const maxRetries = 30

// maxRetryWait is the longest Retry-After the CLI waits out: a server that
// asks for longer gets its error reported at once, so a hostile or broken
// server cannot hold a command for hours.
const maxRetryWait = time.Minute

// getRetrying is client.do for GET, waiting out a 429 or 503 that names a
// Retry-After (at most maxRetries times, never past ctx).
func (c *client) getRetrying(ctx context.Context, errw io.Writer, path string, out any) error {
	return c.getWithin(ctx, errw, path, out, nil)
}

// getWithin is getRetrying that, when left is not nil, also waits no
// longer than *left in all, and takes what it waited from it: one
// budget for every request of a command.
//
// A retried request's time past promptAnswer counts as waiting too: a
// server that held each "later" for most of the idle bound before
// sending it would otherwise hold a command 30 times that long a
// request, however small the budget (atk-r29).
func (c *client) getWithin(ctx context.Context, errw io.Writer, path string, out any, left *time.Duration) error {
	for attempt := 0; ; attempt++ {
		sent := time.Now()
		err := c.do(ctx, "GET", path, nil, out)
		if d := time.Since(sent) - promptAnswer; left != nil && attempt > 0 && d > 0 {
			*left -= d
		}
		var ae *APIError
		if err == nil || attempt >= maxRetries || !errors.As(err, &ae) || ae.RetryAfter == 0 || ae.RetryAfter > maxRetryWait ||
			(ae.Status != http.StatusTooManyRequests && ae.Status != http.StatusServiceUnavailable) ||
			(left != nil && ae.RetryAfter > *left) {
			return err
		}
		fmt.Fprintf(errw, "tokenledger: the server asks to wait %s (HTTP %d); retrying\n", ae.RetryAfter, ae.Status)
		select {
		case <-time.After(ae.RetryAfter):
		case <-ctx.Done():
			return ctx.Err()
		}
		if left != nil {
			*left -= ae.RetryAfter
		}
	}
}

// promptAnswer is how long a retried request may take before its time
// counts against the command's wait budget (getWithin).
const promptAnswer = 100 * time.Millisecond

// auditFlags are the filters of GET /api/ledger/events.
type auditFlags struct {
	token, aggregate, kind, credential, project, environment string
	since, until, order                                      string
	actors, types                                            []string
	fromSeq, toSeq, after, before                            uint64
	limit                                                    int
	all, csv, ocsf                                           bool
}

func (f *auditFlags) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"token": f.token, "aggregate": f.aggregate, "kind": f.kind,
		"credential": f.credential, "project": f.project, "environment": f.environment,
		"since": f.since, "until": f.until, "order": f.order} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for k, vs := range map[string][]string{"actor": f.actors, "type": f.types} {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	for k, v := range map[string]uint64{"from_seq": f.fromSeq, "to_seq": f.toSeq, "after": f.after, "before": f.before} {
		if v > 0 {
			q.Set(k, strconv.FormatUint(v, 10))
		}
	}
	if f.limit > 0 {
		q.Set("limit", strconv.Itoa(f.limit))
	}
	return q
}

func newAudit(env *Env) *cobra.Command {
	var f auditFlags
	c := &cobra.Command{
		Use:   "audit [filters]",
		Short: "Query or export the audit trail: who did what, when, through which credential, and why",
		Long: `Query the audit trail (GET /api/ledger/events). Filters combine (AND); --actor and --type
may repeat (OR). A table by default, --json for scripts; --csv and --ocsf stream the server's
export of every matching event (RFC 4180 CSV, or OCSF 1.3.0 one JSON a line) and print the
covered stream sequences on stderr. --all follows the cursor through every page, in either
--order. Needs an Admin or a role holding READ_AUDIT_LOG; each request is itself recorded.`,
		Example: `  # what one PAT (or service-account token) did last week
  tokenledger audit --credential 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b --since 2026-11-28T00:00:00Z --all
  # everything one person did, newest first (ledger id, Unleash user id, e-mail or username)
  tokenledger audit --actor ann@example.com --order desc --limit 50
  # revocations and expiry changes in one project, as JSON
  tokenledger audit --type token.revoked --type token.expiry-changed --project checkout --all --json
  # one token from creation to revocation
  tokenledger audit --token 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b
  # the whole trail for a SIEM
  tokenledger audit --csv > trail.csv
  tokenledger audit --ocsf --since 2026-12-01T00:00:00Z > trail.ocsf.ndjson
  # who read the audit trail
  tokenledger audit --type audit.queried --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.csv && f.ocsf || (f.csv || f.ocsf) && jsonOut(cmd) {
				return usagef("give at most one of --json, --csv and --ocsf")
			}
			if (f.csv || f.ocsf) && (f.limit > 0 || f.all) {
				return usagef("--csv and --ocsf export every matching event: --limit and --all are for pages")
			}
			if f.order != "" && f.order != "asc" && f.order != "desc" {
				return usagef("--order: %q is neither asc nor desc", f.order)
			}
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			q := f.query()
			if f.csv || f.ocsf {
				format := "csv"
				if f.ocsf {
					format = "ocsf"
				}
				q.Set("format", format)
				return cl.export(cmd, "/api/ledger/events?"+q.Encode())
			}
			return auditPages(cmd, cl, q, f.all, f.order == "desc")
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.token, "token", "", "a token's id: its events")
	fl.StringVar(&f.aggregate, "aggregate", "", "any aggregate's id (with --kind to say which kind)")
	fl.StringVar(&f.kind, "kind", "", "aggregate kind: token, user, serviceaccount, role, project, environment, audit, …")
	fl.StringArrayVar(&f.actors, "actor", nil, "who acted: ledger id, Unleash user or service-account id, e-mail or username (repeatable)")
	fl.StringVar(&f.credential, "credential", "", "the id of the token a request was made with (what did this PAT do)")
	fl.StringArrayVar(&f.types, "type", nil, `event type, e.g. token.revoked; a trailing "." or "*" matches a prefix (repeatable)`)
	fl.StringVar(&f.project, "project", "", "events of this project and of tokens scoped to it")
	fl.StringVar(&f.environment, "environment", "", "events of this environment and of tokens scoped to it")
	fl.StringVar(&f.since, "since", "", "RFC 3339 time: events at or after it")
	fl.StringVar(&f.until, "until", "", "RFC 3339 time: events at or before it")
	fl.Uint64Var(&f.fromSeq, "from-seq", 0, "stream sequence: events at or after it")
	fl.Uint64Var(&f.toSeq, "to-seq", 0, "stream sequence: events at or before it")
	fl.Uint64Var(&f.after, "after", 0, "cursor of --order asc: events after this sequence")
	fl.Uint64Var(&f.before, "before", 0, "cursor of --order desc: events before this sequence")
	fl.StringVar(&f.order, "order", "", "asc (oldest first, the default) or desc")
	fl.IntVar(&f.limit, "limit", 0, "events per page, 1 to 1000 (the server's default, 100, when 0)")
	fl.BoolVar(&f.all, "all", false, "follow the cursor through every page")
	fl.BoolVar(&f.csv, "csv", false, "stream the CSV export of every matching event")
	fl.BoolVar(&f.ocsf, "ocsf", false, "stream the OCSF 1.3.0 export of every matching event (one JSON a line)")
	return c
}

// auditPages reads one page, or with all every page by cursor, and prints
// each page as it comes (a table, or one JSON document whose events are
// written page by page): --all over a million events holds one page.
func auditPages(cmd *cobra.Command, cl *client, q url.Values, all, desc bool) error {
	cursorParam := "after"
	if desc {
		cursorParam = "before"
	}
	var js *jsonDoc
	if jsonOut(cmd) {
		js = &jsonDoc{w: cmd.OutOrStdout()}
		js.head("{\n  \"events\": [")
	}
	var last, next uint64
	for pages := 0; ; pages++ {
		var page struct {
			Events []event          `json:"events"`
			Next   *json.RawMessage `json:"next"`
		}
		if err := cl.getRetrying(cmd.Context(), cmd.ErrOrStderr(), "/api/ledger/events?"+q.Encode(), &page); err != nil {
			return err
		}
		n, err := parseCursor(page.Next)
		if err != nil {
			return err
		}
		if js != nil {
			for _, e := range page.Events {
				js.add(e)
			}
		} else if err := printEventRows(cmd, page.Events, pages == 0); err != nil {
			return err
		}
		next = n
		if !all || n == 0 || len(page.Events) == 0 {
			break
		}
		if last != 0 && (!desc && n <= last || desc && n >= last) {
			return fmt.Errorf("the server's cursor did not advance (%d after %d): stopped rather than loop", n, last)
		}
		last = n
		q.Set(cursorParam, strconv.FormatUint(n, 10))
	}
	if js != nil {
		tail := "null"
		if next != 0 {
			tail = strconv.Quote(strconv.FormatUint(next, 10))
		}
		return js.finish(",\n  \"next\": " + tail + "\n}\n")
	}
	if next != 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "more events: --%s %d (or --all)\n", cursorParam, next)
	}
	return nil
}

// export streams an export answer's body to stdout as it arrives (flat
// memory however long the trail) and names the covered sequences on
// stderr.
func (c *client) export(cmd *cobra.Command, path string) error {
	ctx := cmd.Context()
	for attempt := 0; ; attempt++ {
		resp, err := c.get(ctx, path)
		if err != nil {
			return err
		}
		if resp.StatusCode/100 == 2 {
			defer resp.Body.Close()
			if _, err := io.Copy(cmd.OutOrStdout(), resp.Body); err != nil {
				return fmt.Errorf("the export was cut short: %w", err)
			}
			if rng := resp.Header.Get("X-Ledger-Sequence-Range"); rng != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "stream sequences covered: %s\n", inert(rng, 64))
			}
			return nil
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		ae := apiError(resp, raw)
		if attempt >= maxRetries || ae.RetryAfter == 0 || ae.RetryAfter > maxRetryWait || resp.StatusCode != http.StatusTooManyRequests {
			return ae
		}
		select {
		case <-time.After(ae.RetryAfter):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// get sends a GET with the credential and returns the answer unread (a
// redirect is an error, as in doHeader).
func (c *client) get(ctx context.Context, path string) (*http.Response, error) {
	u := c.base.JoinPath(path)
	if i := strings.IndexByte(path, '?'); i >= 0 {
		u = c.base.JoinPath(path[:i])
		u.RawQuery = path[i+1:]
	}
	ctx, idle := watchIdle(ctx)
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		idle.stop()
		return nil, err
	}
	req.Header.Set("Authorization", c.token)
	req.Header.Set("User-Agent", "tokenledger-cli")
	resp, err := c.http.Do(req)
	if err != nil {
		idle.stop()
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("GET %s: %w", c.base.Host, err)
	}
	resp.Body = idle.body(resp.Body) // closing it ends the watch
	if resp.StatusCode/100 == 3 {
		resp.Body.Close()
		return nil, &APIError{Status: resp.StatusCode, Message: "the server answered with a redirect, which is not followed (it would carry your credential elsewhere); point --server or " + EnvAddr + " at the ledger itself"}
	}
	return resp, nil
}

// apiError is the *APIError of a non-2xx answer whose body is raw.
func apiError(resp *http.Response, raw []byte) *APIError {
	ae := &APIError{Status: resp.StatusCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		ae.RetryAfter = time.Duration(min(secs, 3600)) * time.Second
	}
	var shape struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &shape) == nil {
		ae.Name, ae.Message = inert(shape.Name, 64), inert(shape.Message, 500)
	}
	return ae
}

func newHistory(env *Env) *cobra.Command {
	c := newTokenHistory(env)
	c.Example = `  tokenledger history 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b
  tokenledger history 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b --json | jq '.events[] | {seq, type, actor}'`
	c.Short = "Every event of one token from creation to revocation, with its actors and the verdict of its hash chain"
	return c
}

// verdict is GET /api/ledger/state/tokens/{id}'s answer.
type verdict struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Valid  bool   `json:"valid"`
	Why    string `json:"why"`
	At     struct {
		Seq  uint64    `json:"seq"`
		Time time.Time `json:"time"`
	} `json:"at"`
	DecidedBy *event `json:"decidedBy"`
}

func newState(env *Env) *cobra.Command {
	var seq uint64
	var at, token string
	c := &cobra.Command{
		Use:   "state --at TIME|SEQ [--token ID]",
		Short: "The token set as it was at a moment or stream sequence, or whether one token was valid then and why",
		Example: `  # which tokens were valid at a past minute
  tokenledger state --at 2026-12-01T10:15:00Z
  # the token set after stream sequence 1200, as JSON
  tokenledger state --at 1200 --json
  # was this token valid then, and why (not): active, revoked, expired, not-yet-created or orphaned
  tokenledger state --token 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b --at 2026-12-01T10:15:00Z
  # ... and now
  tokenledger state --token 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if seq > 0 {
				if at != "" {
					return usagef("give exactly one of --seq or --at")
				}
				at = strconv.FormatUint(seq, 10)
			}
			if at == "" && token == "" {
				return usagef("give --seq or --at (a time or a stream sequence), or --token for one token now")
			}
			if at != "" && strings.Trim(at, "0123456789") != "" {
				if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
					return usagef("--at: %q is neither an RFC 3339 time such as 2026-12-01T00:00:00Z nor a stream sequence", at)
				}
			}
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			q := url.Values{}
			if at != "" {
				q.Set("at", at)
			}
			if token != "" {
				return tokenState(cmd, cl, token, q)
			}
			path := "/api/ledger/state?" + q.Encode()
			if jsonOut(cmd) {
				// lastApplied comes first in the answer, before any token.
				js := &jsonDoc{w: cmd.OutOrStdout()}
				started := false
				begin := func(last uint64) {
					if !started {
						js.head(fmt.Sprintf("{\n  \"lastApplied\": %d,\n  \"tokens\": [", last))
						started = true
					}
				}
				var last uint64
				last, err := streamTokensWith(cmd.Context(), cl, cmd.ErrOrStderr(), path, func(l uint64) { last = l }, func(t ledgerToken) error {
					begin(last)
					js.add(t)
					return nil
				})
				if err != nil {
					return err
				}
				begin(last)
				return js.finish("\n}\n")
			}
			tw := tabwriter.NewWriter(terminal(cmd), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tNAME\tSTATUS\tENVIRONMENT\tPROJECTS\tEXPIRES")
			n := 0
			last, err := streamTokens(cmd.Context(), cl, cmd.ErrOrStderr(), path, func(t ledgerToken) error {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Type, inert(t.Name, 200), t.Status, t.Environment, t.projects(), t.expires())
				if n++; n%1000 == 0 {
					return tw.Flush()
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "as of stream sequence %d: %d tokens\n", last, n)
			return nil
		},
	}
	c.Flags().StringVar(&at, "at", "", "an RFC 3339 time, or a stream sequence (the state after that event)")
	c.Flags().Uint64Var(&seq, "seq", 0, "a stream sequence (the same as --at SEQ)")
	c.Flags().StringVar(&token, "token", "", "one token's id: was it valid then, and why (not)")
	return c
}

func tokenState(cmd *cobra.Command, cl *client, id string, q url.Values) error {
	var raw json.RawMessage
	if err := cl.getRetrying(cmd.Context(), cmd.ErrOrStderr(), "/api/ledger/state/tokens/"+url.PathEscape(id)+"?"+q.Encode(), &raw); err != nil {
		return err
	}
	if jsonOut(cmd) {
		_, err := cmd.OutOrStdout().Write(append(raw, '\n'))
		return err
	}
	var v verdict
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("the answer is not the JSON expected: %w", err)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "token %s at stream sequence %d (%s): %s\n", inert(v.ID, 64), v.At.Seq, v.At.Time.UTC().Format(time.RFC3339), inert(v.Status, 32))
	fmt.Fprintf(w, "why: %s\n", inert(v.Why, 500))
	if e := v.DecidedBy; e != nil {
		fmt.Fprintf(w, "decided by: seq %d %s %s by %s via %s\n", e.Seq, e.Time.UTC().Format(time.RFC3339), inert(e.Type, 64),
			inert(e.actorName(), 200), inert(e.credential(), 200))
	}
	return nil
}
