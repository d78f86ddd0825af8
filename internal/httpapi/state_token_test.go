package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

type wireVerdict struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Valid  bool   `json:"valid"`
	Why    string `json:"why"`
	At     struct {
		Seq uint64 `json:"seq"`
	} `json:"at"`
	DecidedBy *struct {
		Seq   uint64 `json:"seq"`
		Type  string `json:"type"`
		Actor struct{ Kind, ID string }
	} `json:"decidedBy"`
	Token *struct {
		Status string `json:"status"`
	} `json:"token"`
}

func verdictOf(t *testing.T, s *servicetest.Service, id, at string) wireVerdict {
	t.Helper()
	r := s.Must(http.StatusOK, "GET", "/api/ledger/state/tokens/"+id+"?at="+at, servicetest.AdminSecret, nil)
	var v wireVerdict
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func seqOf(t *testing.T, s *servicetest.Service, query string) uint64 {
	t.Helper()
	p := auditPage(s, query+"&limit=1&order=desc")
	evs := decodeEvents(t, p.Events)
	if len(evs) != 1 {
		t.Fatalf("no event for %s", query)
	}
	return evs[0].Seq
}

// "Was this token valid then, and why (not)": before and after each step
// of a token's life, and tokens orphaned by their project's or owner's
// deletion at the deletion itself, each with the event that decided it.
func TestTokenStateAtEachLifecycleStepNamesTheDecidingEvent(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	_, id := s.CreateToken("backend", "development")
	created := seqOf(t, s, "token="+id+"&type=token.created")
	expiry := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Second)
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, map[string]any{"expiresAt": expiry.Format(time.RFC3339)})
	changed := seqOf(t, s, "token="+id+"&type=token.expiry-changed")
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, nil)
	revoked := seqOf(t, s, "token="+id+"&type=token.revoked")

	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "doomed", "name": "Doomed"})
	_, projectToken := s.CreateToken("backend", "development", "doomed")
	s.Must(http.StatusOK, "DELETE", "/api/admin/projects/doomed", servicetest.AdminSecret, nil)
	projectDeleted := seqOf(t, s, "aggregate=doomed&type=project.deleted")

	owner := s.CreateUser("leaver", "Editor")
	pat, _ := s.Tokens.Lookup(owner.Secret)
	s.Must(http.StatusOK, "DELETE", "/api/admin/user-admin/"+strconv.Itoa(owner.IntID), servicetest.AdminSecret, nil)
	userDeleted := seqOf(t, s, "kind=user&type=user.deleted")

	itoa := func(n uint64) string { return strconv.FormatUint(n, 10) }
	tests := []struct {
		name, id, at string
		status       string
		decidedBy    uint64
		decidedType  string
	}{
		{"before_creation", id, itoa(created - 1), "not-yet-created", created, "token.created"},
		{"at_creation", id, itoa(created), "active", created, "token.created"},
		{"after_expiry_change", id, itoa(changed), "active", created, "token.created"},
		{"past_its_new_expiry", id, expiry.Add(time.Hour).Format(time.RFC3339), "revoked", revoked, "token.revoked"},
		{"at_revocation", id, itoa(revoked), "revoked", revoked, "token.revoked"},
		{"now", id, "", "revoked", revoked, "token.revoked"},
		{"project_deleted_in_the_same_append_as_the_revocation", projectToken, itoa(projectDeleted), "orphaned", projectDeleted, "project.deleted"},
		{"owner_deleted", pat.ID, itoa(userDeleted), "orphaned", userDeleted, "user.deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verdictOf(t, s, tt.id, tt.at)
			if v.Status != tt.status || v.Valid != (tt.status == "active") || v.Why == "" {
				t.Fatalf("status %q valid %v (%s), want %q", v.Status, v.Valid, v.Why, tt.status)
			}
			if v.DecidedBy == nil || v.DecidedBy.Seq != tt.decidedBy || v.DecidedBy.Type != tt.decidedType || v.DecidedBy.Actor.ID == "" {
				t.Fatalf("decided by %+v, want %s at %d with its actor", v.DecidedBy, tt.decidedType, tt.decidedBy)
			}
			verified := map[string]string{"active": "valid", "expired": "expired", "revoked": "revoked", "orphaned": "revoked"}[tt.status]
			if (v.Token == nil) != (tt.status == "not-yet-created") || v.Token != nil && v.Token.Status != verified {
				t.Fatalf("token %+v for status %s", v.Token, tt.status)
			}
		})
	}
}

// An expiry reached is "expired", decided by the event that set it; the
// moment is judged at the time asked, not now.
func TestTokenStateAtATimeJudgesTheExpiryAtThatTime(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	expiry := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Second)
	r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "short", "type": "backend", "environment": "development", "expiresAt": expiry.Format(time.RFC3339)})
	tok, _ := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
	created := seqOf(t, s, "token="+tok.ID+"&type=token.created")
	for _, tt := range []struct {
		at, status string
	}{
		{expiry.Add(-time.Second).Format(time.RFC3339), "active"},
		{expiry.Format(time.RFC3339), "expired"},
		{expiry.Add(time.Hour).Format(time.RFC3339), "expired"},
	} {
		v := verdictOf(t, s, tok.ID, tt.at)
		if v.Status != tt.status || v.DecidedBy == nil || v.DecidedBy.Seq != created {
			t.Errorf("at %s: %q decided by %+v, want %q by the creation at %d", tt.at, v.Status, v.DecidedBy, tt.status, created)
		}
	}
}

// Unknown tokens are a 404, malformed moments and unknown parameters a
// 400; none of them appends.
func TestTokenStateRefusesUnknownTokensAndMalformedMoments(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	_, id := s.CreateToken("backend", "development")
	before := s.LastSeq()
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/api/ledger/state/tokens/no-such-token", http.StatusNotFound},
		{"/api/ledger/state/tokens/" + id + "?at=yesterday", http.StatusBadRequest},
		{"/api/ledger/state/tokens/" + id + "?at=0", http.StatusBadRequest},
		{"/api/ledger/state/tokens/" + id + "?at=1&at=2", http.StatusBadRequest},
		{"/api/ledger/state/tokens/" + id + "?seq=3", http.StatusBadRequest},
	} {
		r := s.Do("GET", tt.path, servicetest.AdminSecret, nil)
		if r.Status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.path, r.Status, tt.status, r.Body)
		}
		servicetest.CheckErrorShape(t, r)
	}
	if after := s.LastSeq(); after != before {
		t.Errorf("refused requests appended %d events", after-before)
	}
}
