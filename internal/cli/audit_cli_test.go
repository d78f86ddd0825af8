package cli_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// serverSeqs are the sequences GET /api/ledger/events answers for query.
func serverSeqs(t *testing.T, svc *servicetest.Service, query string) []uint64 {
	t.Helper()
	r := svc.Must(http.StatusOK, "GET", "/api/ledger/events?limit=1000&"+query, servicetest.AdminSecret, nil)
	var p struct{ Events []struct{ Seq uint64 } }
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	out := []uint64{}
	for _, e := range p.Events {
		out = append(out, e.Seq)
	}
	return out
}

// auditWorldCLI is a ledger with an admin's tokens and a user's PAT that
// made, changed and revoked one of them with a reason.
func auditWorldCLI(t *testing.T) (svc *servicetest.Service, patID, tokenID string, user servicetest.Principal) {
	svc = servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	user = svc.CreateUser("cli-auditee", "Admin")
	svc.CreateToken("backend", "development", "default")
	r := svc.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", user.Secret,
		map[string]any{"tokenName": "by-pat", "type": "backend", "environment": "production"})
	tok, _ := svc.Tokens.Lookup(r.JSON(t)["secret"].(string))
	svc.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+tok.ID, user.Secret, map[string]any{"expiresAt": "2031-01-01T00:00:00Z"})
	svc.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+tok.ID, user.Secret, nil, "X-Ledger-Reason", "rotated after review")
	pat, _ := svc.Tokens.Lookup(user.Secret)
	return svc, pat.ID, tok.ID, user
}

// Every filter flag selects what the same query parameter selects on the
// server, one page at a time through --all, in both orders.
func TestCLI_AuditFlagsSelectWhatTheServerSelects(t *testing.T) {
	svc, patID, tokenID, user := auditWorldCLI(t)
	upTo := strconv.FormatUint(svc.LastSeq(), 10) // reads are recorded: fix the window
	tests := []struct {
		name  string
		flags []string
		query url.Values
	}{
		{"token", []string{"--token", tokenID}, url.Values{"token": {tokenID}}},
		{"credential", []string{"--credential", patID}, url.Values{"credential": {patID}}},
		{"actor_by_email_and_id", []string{"--actor", "cli-auditee@example.com", "--actor", strconv.Itoa(user.IntID)},
			url.Values{"actor": {"cli-auditee@example.com", strconv.Itoa(user.IntID)}}},
		{"types", []string{"--type", "token.revoked", "--type", "user."}, url.Values{"type": {"token.revoked", "user."}}},
		{"kind_and_aggregate", []string{"--kind", "token", "--aggregate", tokenID}, url.Values{"kind": {"token"}, "aggregate": {tokenID}}},
		{"project", []string{"--project", "default"}, url.Values{"project": {"default"}}},
		{"environment", []string{"--environment", "production"}, url.Values{"environment": {"production"}}},
		{"times", []string{"--since", "2000-01-01T00:00:00Z", "--until", "2999-01-01T00:00:00Z", "--type", "token."},
			url.Values{"since": {"2000-01-01T00:00:00Z"}, "until": {"2999-01-01T00:00:00Z"}, "type": {"token."}}},
		{"sequences", []string{"--from-seq", "3", "--to-seq", "9"}, url.Values{"from_seq": {"3"}, "to_seq": {"9"}}},
	}
	for _, tt := range tests {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/desc=%v", tt.name, desc), func(t *testing.T) {
				args := append([]string{"audit", "--all", "--limit", "2", "--json"}, tt.flags...)
				q := url.Values{}
				for k, v := range tt.query {
					q[k] = v
				}
				if q.Get("to_seq") == "" {
					args = append(args, "--to-seq", upTo)
					q.Set("to_seq", upTo)
				}
				if desc {
					args = append(args, "--order", "desc")
					q.Set("order", "desc")
				}
				code, out, errOut := cliRun(t, svc, servicetest.AdminSecret, "", args...)
				if code != cli.ExitOK {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				var got struct{ Events []struct{ Seq uint64 } }
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				seqs := []uint64{}
				for _, e := range got.Events {
					seqs = append(seqs, e.Seq)
				}
				want := serverSeqs(t, svc, q.Encode())
				if len(want) == 0 && tt.name != "none" {
					t.Fatalf("the query selects nothing: a test that cannot fail")
				}
				if !slices.Equal(seqs, want) {
					t.Errorf("cli %v = %v, server %v", tt.flags, seqs, want)
				}
			})
		}
	}
	// The table shows who, through which credential, and why.
	code, out, _ := cliRun(t, svc, servicetest.AdminSecret, "", "audit", "--token", tokenID)
	if code != cli.ExitOK || !strings.Contains(out, "cli-auditee@example.com") || !strings.Contains(out, "personal "+patID) ||
		!strings.Contains(out, "rotated after review") {
		t.Errorf("audit table: exit %d\n%s", code, out)
	}
}

// --csv and --ocsf print the server's export as it is, and the covered
// sequences on stderr.
func TestCLI_AuditExportsAreTheServersExports(t *testing.T) {
	svc, patID, _, _ := auditWorldCLI(t)
	upTo := strconv.FormatUint(svc.LastSeq(), 10)
	for _, format := range []string{"csv", "ocsf"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := cliRun(t, svc, servicetest.AdminSecret, "", "audit", "--"+format, "--credential", patID, "--to-seq", upTo)
			if code != cli.ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			r := svc.Must(http.StatusOK, "GET", "/api/ledger/events?format="+format+"&credential="+patID+"&to_seq="+upTo, servicetest.AdminSecret, nil)
			if out != string(r.Body) || strings.Count(out, "\n") < 3 {
				t.Errorf("cli export differs from the server's:\n%s\n---\n%s", out, r.Body)
			}
			if rng := r.Header.Get("X-Ledger-Sequence-Range"); !strings.Contains(errOut, "stream sequences covered: "+rng) {
				t.Errorf("stderr does not name the range %s: %q", rng, errOut)
			}
		})
	}
}

// history and state --token answer from a terminal; state takes a time or
// a sequence.
func TestCLI_HistoryAndStateOfOneToken(t *testing.T) {
	svc, _, tokenID, _ := auditWorldCLI(t)
	code, out, _ := cliRun(t, svc, servicetest.AdminSecret, "", "history", tokenID)
	if code != cli.ExitOK || !strings.Contains(out, "token.created") || !strings.Contains(out, "token.revoked") ||
		!strings.Contains(out, "hash chain: intact (3 events)") {
		t.Fatalf("history: exit %d\n%s", code, out)
	}
	if code, _, _ := cliRun(t, svc, servicetest.AdminSecret, "", "history", "no-such-token"); code != cli.ExitNotFound {
		t.Errorf("history of an unknown token: exit %d, want %d", code, cli.ExitNotFound)
	}
	var h struct {
		Events []struct {
			Seq  uint64
			Type string
		}
	}
	_, raw, _ := cliRun(t, svc, servicetest.AdminSecret, "", "history", tokenID, "--json")
	if err := json.Unmarshal([]byte(raw), &h); err != nil || len(h.Events) != 3 {
		t.Fatalf("history --json: %v\n%s", err, raw)
	}
	created, revoked := h.Events[0].Seq, h.Events[2].Seq
	for _, tt := range []struct {
		at, want string
	}{
		{strconv.FormatUint(created-1, 10), "not-yet-created"},
		{strconv.FormatUint(created, 10), "active"},
		{strconv.FormatUint(revoked, 10), "revoked"},
		{"", "revoked"},
	} {
		args := []string{"state", "--token", tokenID}
		if tt.at != "" {
			args = append(args, "--at", tt.at)
		}
		code, out, errOut := cliRun(t, svc, servicetest.AdminSecret, "", args...)
		if code != cli.ExitOK || !strings.Contains(out, ": "+tt.want+"\n") || !strings.Contains(out, "decided by: seq") {
			t.Errorf("state --token --at %q: exit %d, want %s\n%s%s", tt.at, code, tt.want, out, errOut)
		}
	}
	code, out, _ = cliRun(t, svc, servicetest.AdminSecret, "", "state", "--at", strconv.FormatUint(created, 10), "--json")
	var st struct{ Tokens []struct{ ID, Status string } }
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &st) != nil || !slices.ContainsFunc(st.Tokens, func(tk struct{ ID, Status string }) bool {
		return tk.ID == tokenID && tk.Status == "valid"
	}) {
		t.Errorf("state --at SEQ: exit %d\n%s", code, out)
	}
}

// --all keeps going when the server asks it to wait (each read of the
// trail spends the caller's mutation budget).
func TestCLI_AuditAllWaitsOutTheRateLimit(t *testing.T) {
	svc := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 4; c.MutationBurst = 2 })
	for range 2 {
		svc.CreateToken("backend", "development") // empties the admin token's budget
	}
	code, out, errOut := cliRun(t, svc, servicetest.AdminSecret, "", "audit", "--type", "token.created", "--environment", "development", "--limit", "1", "--all", "--json")
	if code != cli.ExitOK || !strings.Contains(errOut, "retrying") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got struct{ Events []json.RawMessage }
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Events) != 2 {
		t.Fatalf("%d events, want 2: %v", len(got.Events), err)
	}
}

// Flags that contradict each other are usage errors; nothing is sent.
func TestCLI_AuditRefusesContradictoryFlags(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "--csv", "--ocsf"},
		{"audit", "--csv", "--limit", "5"},
		{"audit", "--ocsf", "--all"},
		{"audit", "--csv", "--json"},
		{"audit", "--order", "sideways"},
		{"state", "--at", "yesterday"},
		{"state", "--at", "5", "--seq", "5"},
		{"history"},
	} {
		if code, _, errOut := cliRun(t, nil, "x", "", args...); code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, cli.ExitUsage, errOut)
		}
	}
}

// --help of each audit command shows worked examples.
func TestCLI_AuditCommandsHelpShowsExamples(t *testing.T) {
	for cmd, example := range map[string]string{
		"audit":   "tokenledger audit --credential",
		"history": "tokenledger history 0193",
		"state":   "tokenledger state --token",
	} {
		code, out, _ := cliRun(t, nil, "", "", cmd, "--help")
		if code != cli.ExitOK || !strings.Contains(out, "Examples:") || !strings.Contains(out, example) {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, out)
		}
	}
}
