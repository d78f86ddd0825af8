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
	// raw is the server's JSON of the event, which --json prints whole
	// (the chain's and the signature's fields included).
	raw json.RawMessage
}

// UnmarshalJSON decodes the fields the tables show and keeps the rest.
func (e *event) UnmarshalJSON(b []byte) error {
	type plain event
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*e = event(p)
	e.raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON is the event as the server sent it.
func (e event) MarshalJSON() ([]byte, error) {
	if e.raw != nil {
		return e.raw, nil
	}
	type plain event
	return json.Marshal(plain(e))
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

func printEvents(cmd *cobra.Command, evs []event) error { return printEventRows(cmd, evs, true) }

// printEventRows prints evs as table rows, under the header when header
// is set (a page of --all after the first has none).
func printEventRows(cmd *cobra.Command, evs []event, header bool) error {
	tw := tabwriter.NewWriter(terminal(cmd), 0, 4, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "SEQ\tTIME\tTYPE\tAGGREGATE\tACTOR\tCREDENTIAL\tREASON")
	}
	for _, e := range evs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339), inert(e.Type, 64),
			inert(e.Kind+" "+e.AggregateID, 128), inert(e.actorName(), 200), inert(e.credential(), 200), inert(e.Reason, 512))
	}
	return tw.Flush()
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
			fmt.Fprintf(terminal(cmd), "hash chain: %s (%d events)\n", verdict, h.Chain.Events)
			if !h.Chain.Intact {
				return &exitError{ExitError, fmt.Errorf("the token's hash chain is broken")}
			}
			return nil
		},
	}
}
