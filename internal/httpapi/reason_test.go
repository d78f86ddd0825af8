package httpapi_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// X-Ledger-Reason on the PUT and DELETE of tokens, users, service
// accounts, projects and environments is stored as the event's reason
// (control and format characters removed) and shown in the trail's pages
// and CSV export; without it the reason stays empty.
func TestChangeReasonIsStoredAndShownInTheTrail(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	_, tokenA := s.CreateToken("backend", "development")
	_, tokenB := s.CreateToken("backend", "development")
	user := s.CreateUser("reasoned", "Viewer")
	sa := s.CreateServiceAccount("reasoned-bot", "Viewer")
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "why", "name": "Why"})
	s.Must(http.StatusCreated, "POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": "why-env", "type": "test"})
	tests := []struct {
		name, method, path string
		body               any
		event              string
	}{
		{"put_token", "PUT", "/api/admin/api-tokens/" + tokenA, map[string]any{"expiresAt": servicetest.FromNow(48 * 3600e9)}, "token.expiry-changed"},
		{"delete_token", "DELETE", "/api/admin/api-tokens/" + tokenB, nil, "token.revoked"},
		{"put_user", "PUT", fmt.Sprintf("/api/admin/user-admin/%d", user.IntID), map[string]any{"rootRole": "Editor"}, "user.role-changed"},
		{"put_service_account", "PUT", fmt.Sprintf("/api/admin/service-account/%d", sa.IntID), map[string]any{"name": "renamed"}, "serviceaccount.updated"},
		{"put_project", "PUT", "/api/admin/projects/why", map[string]any{"name": "Why not"}, "project.updated"},
		{"put_environment", "PUT", "/api/admin/environments/update/why-env", map[string]any{"type": "production"}, "environment.updated"},
		{"delete_service_account", "DELETE", fmt.Sprintf("/api/admin/service-account/%d", sa.IntID), nil, "serviceaccount.deleted"},
		{"delete_user", "DELETE", fmt.Sprintf("/api/admin/user-admin/%d", user.IntID), nil, "user.deleted"},
		{"delete_project", "DELETE", "/api/admin/projects/why", nil, "project.deleted"},
		{"delete_environment", "DELETE", "/api/admin/environments/why-env", nil, "environment.deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason := "ticket SEC-42: " + tt.name + "\u202e\u200b ✓"
			r := s.Must(http.StatusOK, tt.method, tt.path, servicetest.AdminSecret, tt.body, "X-Ledger-Reason", reason)
			seq := r.Header.Get("X-Ledger-Sequence")
			p := auditPage(s, "type="+tt.event+"&to_seq="+seq+"&order=desc&limit=1")
			var got []struct {
				Type, Reason string
			}
			raw, _ := json.Marshal(p.Events)
			if err := json.Unmarshal(raw, &got); err != nil || len(got) != 1 {
				t.Fatalf("no %s event up to %s: %v", tt.event, seq, err)
			}
			if want := "ticket SEC-42: " + tt.name + " ✓"; got[0].Reason != want {
				t.Errorf("reason %q, want %q", got[0].Reason, want)
			}
		})
	}
	// The CSV export shows it in its reason column.
	c := s.Must(http.StatusOK, "GET", "/api/ledger/events?format=csv&type=token.revoked&token="+tokenB, servicetest.AdminSecret, nil)
	recs, err := csv.NewReader(bytes.NewReader(c.Body)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv: %v", err)
	}
	col := -1
	for i, h := range recs[0] {
		if h == "reason" {
			col = i
		}
	}
	if col < 0 || !strings.Contains(recs[len(recs)-1][col], "SEC-42: delete_token") {
		t.Errorf("the CSV export's last revocation has reason %q", recs[len(recs)-1][max(col, 0)])
	}
	// Without the header the reason stays the operation's default: none.
	_, tokenC := s.CreateToken("backend", "development")
	r := s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+tokenC, servicetest.AdminSecret, nil)
	p := auditPage(s, "token="+tokenC+"&type=token.revoked&to_seq="+r.Header.Get("X-Ledger-Sequence"))
	var ev struct{ Reason *string }
	if len(p.Events) != 1 || json.Unmarshal(p.Events[0], &ev) != nil || ev.Reason != nil {
		t.Errorf("a change without X-Ledger-Reason recorded a reason: %s", p.Events)
	}
}

// A reason that is too long or not UTF-8 is a 400 that changes nothing.
func TestChangeReasonTooLongOrNotUTF8IsRefused(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	_, id := s.CreateToken("backend", "development")
	before := s.LastSeq()
	for name, reason := range map[string]string{
		"too_long": strings.Repeat("x", 513),
		"not_utf8": "bad \xff byte",
		"cut_rune": strings.Repeat("é", 256) + "\xc3",
	} {
		r := s.Do("DELETE", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, nil, "X-Ledger-Reason", reason)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, r.Status, r.Body)
		}
		servicetest.CheckErrorShape(t, r)
	}
	if after := s.LastSeq(); after != before {
		t.Errorf("refused changes appended %d events", after-before)
	}
	if tok, _ := s.Tokens.ByID(id); tok.Revoked {
		t.Error("a refused DELETE revoked the token")
	}
	// At the bound it is accepted.
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, nil, "X-Ledger-Reason", strings.Repeat("x", 512))
}
