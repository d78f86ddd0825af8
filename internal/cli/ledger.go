package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// event is one audit entry as GET /api/ledger/events and a token's history
// give it.
type event struct {
	Seq         uint64          `json:"seq"`
	ID          string          `json:"id"`
	Time        time.Time       `json:"time"`
	Type        string          `json:"type"`
	Kind        string          `json:"kind"`
	AggregateID string          `json:"aggregateId"`
	Actor       json.RawMessage `json:"actor"`
	Via         json.RawMessage `json:"via"`
	Reason      string          `json:"reason,omitempty"`
	Data        json.RawMessage `json:"data"`
}

func (e event) actorName() string {
	var a struct {
		Kind, ID, Name string
	}
	_ = json.Unmarshal(e.Actor, &a)
	if a.Name != "" {
		return a.Name
	}
	return a.Kind + " " + a.ID
}

func (e event) credential() string {
	var v struct {
		CredentialType string `json:"credentialType"`
		CredentialID   string `json:"credentialId"`
	}
	_ = json.Unmarshal(e.Via, &v)
	if v.CredentialID == "" {
		return v.CredentialType
	}
	return v.CredentialType + " " + v.CredentialID
}

func printEvents(cmd *cobra.Command, evs []event) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tTYPE\tAGGREGATE\tACTOR\tCREDENTIAL\tREASON")
	for _, e := range evs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339), e.Type,
			e.Kind+" "+e.AggregateID, e.actorName(), e.credential(), e.Reason)
	}
	return tw.Flush()
}

func newAudit(env *Env) *cobra.Command {
	var typ, actor, aggregate, project, environment, since, until string
	var limit int
	var all bool
	c := &cobra.Command{
		Use:   "audit",
		Short: "Query the audit trail: who did what, when, through which credential",
		Example: `  tokenledger audit --type token.revoked --since 2026-12-01T00:00:00Z
  tokenledger audit --aggregate 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b --json
  tokenledger audit --type token. --all --json > token-events.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"type": typ, "actor": actor, "aggregate": aggregate, "project": project,
				"environment": environment, "since": since, "until": until} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			var out []event
			var cursor uint64
			for {
				var page struct {
					Events []event          `json:"events"`
					Next   *json.RawMessage `json:"next"`
				}
				if err := cl.do(cmd.Context(), "GET", "/api/ledger/events?"+q.Encode(), nil, &page); err != nil {
					return err
				}
				next, err := parseCursor(page.Next)
				if err != nil {
					return err
				}
				out = append(out, page.Events...)
				if !all || next == 0 || len(page.Events) == 0 {
					break
				}
				if next <= cursor {
					return fmt.Errorf("the server's cursor did not advance (%d after %d): stopped rather than loop", next, cursor)
				}
				cursor = next
				q.Set("after", strconv.FormatUint(next, 10))
			}
			if out == nil {
				out = []event{}
			}
			if jsonOut(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]any{"events": out})
			}
			return printEvents(cmd, out)
		},
	}
	f := c.Flags()
	f.StringVar(&typ, "type", "", `event type, e.g. token.revoked; a trailing "." matches a prefix (token.)`)
	f.StringVar(&actor, "actor", "", "the actor's id")
	f.StringVar(&aggregate, "aggregate", "", "an aggregate's id, e.g. a token's id")
	f.StringVar(&project, "project", "", "events of tokens scoped to this project")
	f.StringVar(&environment, "environment", "", "events of tokens scoped to this environment")
	f.StringVar(&since, "since", "", "RFC 3339 time: events at or after it")
	f.StringVar(&until, "until", "", "RFC 3339 time: events before it")
	f.IntVar(&limit, "limit", 0, "events per page (the server's default when 0)")
	f.BoolVar(&all, "all", false, "follow the cursor through every page")
	return c
}

// parseCursor reads a page's next cursor: null or absent (0: the last
// page), a sequence as a string, or (older servers) as a number.
func parseCursor(raw *json.RawMessage) (uint64, error) {
	if raw == nil || string(*raw) == "null" {
		return 0, nil
	}
	var s string
	if json.Unmarshal(*raw, &s) != nil {
		s = string(*raw)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the server's cursor %.40q is not a stream sequence", s)
	}
	return n, nil
}

func newTokenHistory(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:     "history ID",
		Short:   "Every event of one token, and whether its hash chain is intact",
		Example: `  tokenledger token history 0193a0e4-5b7c-7d1e-9a4f-1c2d3e4f5a6b`,
		Args:    exactArgs(1, "a token id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			var h struct {
				Chain struct {
					Intact bool   `json:"intact"`
					Events int    `json:"events"`
					Error  string `json:"error,omitempty"`
				} `json:"chain"`
				Events []event `json:"events"`
			}
			var raw json.RawMessage
			if err := cl.do(cmd.Context(), "GET", "/api/ledger/tokens/"+url.PathEscape(args[0])+"/history", nil, &raw); err != nil {
				return err
			}
			if jsonOut(cmd) {
				_, err := cmd.OutOrStdout().Write(append(raw, '\n'))
				return err
			}
			if err := json.Unmarshal(raw, &h); err != nil {
				return err
			}
			if err := printEvents(cmd, h.Events); err != nil {
				return err
			}
			verdict := "intact"
			if !h.Chain.Intact {
				verdict = "BROKEN: " + h.Chain.Error
			}
			fmt.Fprintf(cmd.OutOrStdout(), "hash chain: %s (%d events)\n", verdict, h.Chain.Events)
			if !h.Chain.Intact {
				return &exitError{ExitError, fmt.Errorf("the token's hash chain is broken")}
			}
			return nil
		},
	}
}

func newState(env *Env) *cobra.Command {
	var seq uint64
	var at string
	c := &cobra.Command{
		Use:   "state (--seq N | --at TIME)",
		Short: "The token set as it was at a stream sequence or a moment",
		Example: `  tokenledger state --at 2026-12-01T00:00:00Z
  tokenledger state --seq 1200 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (seq == 0) == (at == "") {
				return usagef("give exactly one of --seq or --at")
			}
			q := url.Values{}
			if seq > 0 {
				q.Set("seq", strconv.FormatUint(seq, 10))
			} else {
				if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
					return usagef("--at: %q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", at)
				}
				q.Set("at", at)
			}
			cl, err := newClient(cmd, env)
			if err != nil {
				return err
			}
			var st struct {
				LastApplied uint64        `json:"lastApplied"`
				Tokens      []ledgerToken `json:"tokens"`
			}
			if err := cl.do(cmd.Context(), "GET", "/api/ledger/state?"+q.Encode(), nil, &st); err != nil {
				return err
			}
			if st.Tokens == nil {
				st.Tokens = []ledgerToken{}
			}
			if jsonOut(cmd) {
				return printJSON(cmd.OutOrStdout(), st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "as of stream sequence %d: %d tokens\n", st.LastApplied, len(st.Tokens))
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tNAME\tSTATUS\tENVIRONMENT\tPROJECTS\tEXPIRES")
			for _, t := range st.Tokens {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Type, t.Name, t.Status, t.Environment, t.projects(), t.expires())
			}
			return tw.Flush()
		},
	}
	c.Flags().Uint64Var(&seq, "seq", 0, "a stream sequence")
	c.Flags().StringVar(&at, "at", "", "an RFC 3339 time")
	return c
}
