package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// "Reading the trail is itself recorded: each query … appends an
// audit.queried event (the route, the filters as given …)". The record
// keeps at most 16 values of a parameter; the query once used them all
// (actor= and type= repeated without limit): an auditor who put the person
// they looked up after 16 decoys read that person's events while the record
// of the read never named them. A parameter now repeats at most 16 times.
func TestAuditReadRecordNamesEveryFilterTheQueryUsed(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	role := s.CreateRole("Auditors", "root", "READ_AUDIT_LOG")
	auditor := s.CreateUser("auditor", role)
	target := s.CreateUser("ann", "Editor")
	s.Must(http.StatusCreated, "POST", "/api/admin/user/tokens", target.Secret,
		map[string]any{"description": "ann's second", "expiresAt": servicetest.FromNow(48 * 3600e9)})
	// Seventeen values: refused (the record keeps 16), so nothing is read
	// that the record would not name.
	q := url.Values{}
	for i := range 16 {
		q.Add("actor", fmt.Sprintf("decoy-%02d@example.com", i))
	}
	q.Add("actor", "ann@example.com")
	s.Must(http.StatusBadRequest, "GET", "/api/ledger/events?"+q.Encode(), auditor.Secret, nil)
	// Sixteen, ann last: read, and named.
	q = url.Values{}
	for i := range 15 {
		q.Add("actor", fmt.Sprintf("decoy-%02d@example.com", i))
	}
	q.Add("actor", "ann@example.com")
	r := s.Must(http.StatusOK, "GET", "/api/ledger/events?"+q.Encode(), auditor.Secret, nil)
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) == 0 {
		t.Fatalf("the query found none of ann's events: %.200s", r.Body)
	}
	_, rec := lastAuditRecord(t, s)
	if !strings.Contains(strings.Join(rec.Filters["actor"], ","), "ann@example.com") {
		t.Errorf("the auditor read %d of ann's events; the record of the read names only %d actors, not ann: %v",
			len(page.Events), len(rec.Filters["actor"]), rec.Filters["actor"])
	}
}
