package httpapi_test

// Who may read the audit trail, and the trail's record of every read
// (issue 14, item 6): Admin or a custom root role holding READ_AUDIT_LOG;
// each read and each refusal of an authenticated caller appends an
// audit.queried event attributed like any event; unauthenticated attempts
// append nothing and are counted in a metric; the records spend the
// caller's mutation budget.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// auditRecord is an audit.queried event's payload.
type auditRecord struct {
	Route   string              `json:"route"`
	Outcome string              `json:"outcome"`
	Format  string              `json:"format"`
	Filters map[string][]string `json:"filters"`
	Missing string              `json:"missing"`
}

// lastAuditRecord is the newest audit.queried event in the stream.
func lastAuditRecord(t *testing.T, s *servicetest.Service) (events.Envelope, auditRecord) {
	t.Helper()
	seq := s.LastSeq()
	evs := s.Events(max(seq, 4)-3, seq)
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == events.TypeAuditQueried {
			var rec auditRecord
			if err := json.Unmarshal(evs[i].Data, &rec); err != nil {
				t.Fatal(err)
			}
			return evs[i], rec
		}
	}
	t.Fatalf("no audit.queried among the last events")
	return events.Envelope{}, auditRecord{}
}

func TestAuditTrailIsReadByAdminOrAReadAuditLogRoleAndEveryReadIsRecorded(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0; c.CheckpointEvery = 2 })
	auditorRole := s.CreateRole("Auditors", "root", "READ_AUDIT_LOG")
	tokenRole := s.CreateRole("Token readers", "root", "READ_CLIENT_API_TOKEN")
	auditor := s.CreateUser("auditor", auditorRole)
	reader := s.CreateUser("token-reader", tokenRole)
	editor := s.CreateUser("editor", "Editor")
	_, tokenID := s.CreateToken("backend", "development")
	servicetest.WaitFor(t, 30*time.Second, func() error {
		if r := s.Do("GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil); r.Status != http.StatusOK {
			return fmt.Errorf("no checkpoint yet: %d", r.Status)
		}
		return nil
	})
	// The checkpoint and proofs hand out no event: an auditor reads them,
	// nothing is recorded; others are refused.
	integrityReads := []string{"/api/ledger/checkpoint", "/api/ledger/events/1/proof", "/api/ledger/proof/consistency?from=1&to=2"}
	for _, path := range integrityReads {
		if r := s.Do("GET", path, auditor.Secret, nil); r.Status != http.StatusOK {
			t.Errorf("auditor GET %s: %d %s", path, r.Status, r.Body)
		}
		if r := s.Do("GET", path, editor.Secret, nil); r.Status != http.StatusForbidden {
			t.Errorf("editor GET %s: %d %s", path, r.Status, r.Body)
		}
	}
	routes := []struct{ name, path, route string }{
		{"query", "/api/ledger/events?type=token.created&limit=5", "GET /api/ledger/events"},
		{"export", "/api/ledger/events?format=csv&type=token.", "GET /api/ledger/events"},
		{"history", "/api/ledger/tokens/" + tokenID + "/history", "GET /api/ledger/tokens/{id}/history"},
		{"state", "/api/ledger/state?at=3", "GET /api/ledger/state"},
		{"state_of_a_token", "/api/ledger/state/tokens/" + tokenID + "?at=3", "GET /api/ledger/state/tokens/{id}"},
		{"bundle", "/api/ledger/bundle?from_seq=1&to_seq=2", "GET /api/ledger/bundle"},
	}
	callers := []struct {
		name    string
		secret  string
		status  int
		outcome string
	}{
		{"admin_token", servicetest.AdminSecret, http.StatusOK, events.AuditAllowed},
		{"read_audit_log_role", auditor.Secret, http.StatusOK, events.AuditAllowed},
		{"token_permissions_only", reader.Secret, http.StatusForbidden, events.AuditDenied},
		{"editor", editor.Secret, http.StatusForbidden, events.AuditDenied},
	}
	for _, c := range callers {
		cred, ok := s.Tokens.Lookup(c.secret)
		if !ok {
			t.Fatal("no credential")
		}
		for _, rt := range routes {
			t.Run(c.name+"/"+rt.name, func(t *testing.T) {
				before := s.LastSeq()
				r := s.Do("GET", rt.path, c.secret, nil)
				if r.Status != c.status {
					t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
				}
				if c.status != http.StatusOK {
					servicetest.CheckErrorShape(t, r)
				}
				env, rec := lastAuditRecord(t, s)
				if env.Sequence <= before {
					t.Fatalf("no record appended (last record at %d, before %d)", env.Sequence, before)
				}
				if got := r.Header.Get("X-Ledger-Sequence"); got != strconv.FormatUint(env.Sequence, 10) {
					t.Errorf("X-Ledger-Sequence %q, the record is at %d", got, env.Sequence)
				}
				if rec.Route != rt.route || rec.Outcome != c.outcome {
					t.Errorf("record %+v, want route %q outcome %q", rec, rt.route, c.outcome)
				}
				if env.Via.CredentialID != cred.ID || env.Actor.ID == "" || env.Via.RemoteAddr == "" {
					t.Errorf("record attributed to %+v via %+v, want credential %s", env.Actor, env.Via, cred.ID)
				}
				if env.AggregateKind != events.KindAudit {
					t.Errorf("record kind %q", env.AggregateKind)
				}
				if strings.Contains(rt.path, "type=token.created") && (len(rec.Filters["type"]) != 1 || rec.Filters["type"][0] != "token.created") {
					t.Errorf("filters %v do not hold the query's", rec.Filters)
				}
				if strings.Contains(rt.path, "/history") && (len(rec.Filters["id"]) != 1 || rec.Filters["id"][0] != tokenID) {
					t.Errorf("filters %v do not hold the token id", rec.Filters)
				}
				if c.outcome == events.AuditDenied && rec.Missing != "READ_AUDIT_LOG" {
					t.Errorf("denied record names %q as missing", rec.Missing)
				}
				if rt.name == "bundle" && c.status == http.StatusOK && rec.Format != "bundle" {
					t.Errorf("bundle recorded as format %q", rec.Format)
				}
				if rt.name == "export" && c.status == http.StatusOK && rec.Format != "csv" {
					t.Errorf("export recorded as format %q", rec.Format)
				}
			})
		}
	}
	// The records are in the trail, found by the actor filter.
	var page struct{ Events []json.RawMessage }
	r := s.Must(http.StatusOK, "GET", "/api/ledger/events?type=audit.queried&actor=auditor&limit=1000", servicetest.AdminSecret, nil)
	if err := json.Unmarshal(r.Body, &page); err != nil || len(page.Events) != len(routes) {
		t.Errorf("the auditor's reads in the trail: %d, want %d (%v)", len(page.Events), len(routes), err)
	}
	// In OCSF, a refused read is a failed API Activity read.
	o := s.Must(http.StatusOK, "GET", "/api/ledger/events?format=ocsf&type=audit.queried&actor=editor", servicetest.AdminSecret, nil)
	lines := bytes.Split(bytes.TrimSpace(o.Body), []byte("\n"))
	if len(lines) != len(routes)+len(integrityReads) {
		t.Fatalf("OCSF export of the editor's refused reads: %d lines, want %d", len(lines), len(routes)+len(integrityReads))
	}
	for _, l := range lines {
		var ev struct {
			ClassUID   int `json:"class_uid"`
			ActivityID int `json:"activity_id"`
			StatusID   int `json:"status_id"`
		}
		if err := json.Unmarshal(l, &ev); err != nil || ev.ClassUID != 6003 || ev.ActivityID != 2 || ev.StatusID != 2 {
			t.Errorf("OCSF of a refused read: %s", l)
		}
	}
}

// A caller that did not authenticate appends nothing: it is counted in
// tokenledger_audit_unauthenticated_total.
func TestUnauthenticatedAuditReadsAppendNothingAndAreCounted(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	before := s.LastSeq()
	for _, cred := range []string{"", "*:*.not-a-token-of-this-ledger-0123456789abcdef012345"} {
		for _, path := range []string{"/api/ledger/events", "/api/ledger/state?at=1", "/api/ledger/tokens/x/history"} {
			r := s.Do("GET", path, cred, nil)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("%s with %q: status %d, want 401", path, cred, r.Status)
			}
		}
	}
	if after := s.LastSeq(); after != before {
		t.Errorf("unauthenticated reads appended %d events", after-before)
	}
	m := s.Must(http.StatusOK, "GET", "/metrics", "", nil)
	if !bytes.Contains(m.Body, []byte("tokenledger_audit_unauthenticated_total 6\n")) {
		t.Errorf("metrics do not count 6 unauthenticated audit reads:\n%s", grepLines(m.Body, "tokenledger_audit"))
	}
}

func grepLines(b []byte, sub string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Recording reads cannot flood the stream: each record spends one token of
// the caller's mutation budget, for allowed and denied reads alike; an
// empty budget is a 429 that appends nothing.
func TestAuditReadRecordsSpendTheCallersMutationBudget(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0.0001; c.MutationBurst = 40 })
	editor := s.CreateUser("editor", "Editor") // 2 of the admin token's 40
	for _, c := range []struct {
		name, secret string
		status       int
		budget       int
	}{{"admin_reads", servicetest.AdminSecret, http.StatusOK, 38}, {"editor_denied", editor.Secret, http.StatusForbidden, 40}} {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.budget {
				if r := s.Do("GET", "/api/ledger/events?limit=1", c.secret, nil); r.Status != c.status {
					t.Fatalf("read %d: status %d, want %d: %s", i, r.Status, c.status, r.Body)
				}
			}
			before := s.LastSeq()
			r := s.Do("GET", "/api/ledger/events?limit=1", c.secret, nil)
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("read beyond the budget: status %d, want 429 with Retry-After", r.Status)
			}
			servicetest.CheckErrorShape(t, r)
			if after := s.LastSeq(); after != before {
				t.Errorf("a read beyond the budget appended %d events", after-before)
			}
		})
	}
}

// A filter value that is a token's secret is not recorded: the trail never
// holds a secret.
func TestAuditRecordsNeverHoldASecretGivenAsAFilter(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	secret, _ := s.CreateToken("backend", "development")
	// The credential filter's read last: its record is checked below.
	for _, path := range []string{"/api/ledger/tokens/" + secret + "/history", "/api/ledger/events?credential=" + secret} {
		s.Do("GET", path, servicetest.AdminSecret, nil)
		s.Do("GET", path, servicetest.AdminSecret, nil)
	}
	for _, e := range s.Events(1, s.LastSeq()) {
		b, _ := events.Marshal(&e)
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(servicetest.AdminSecret)) {
			t.Fatalf("event %d (%s) holds a secret: %s", e.Sequence, e.Type, b)
		}
	}
	_, rec := lastAuditRecord(t, s)
	if got := rec.Filters["credential"]; len(got) != 1 || got[0] != "[secret]" {
		t.Errorf("credential filter recorded as %v, want [secret]", got)
	}
}
