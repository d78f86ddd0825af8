package httpapi_test

// Attacks on the audit trail's routes with a token's secret where an id
// or a filter is expected: the trail, the logs and the answers must never
// hold a secret (README: "No export or page holds a secret"; "A filter
// value that is a token's secret is recorded as [secret]"), and bad input
// is a 4xx, never a 500.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The README says the ledger routes take a token's id or its full secret.
// GET /api/ledger/state/tokens/{id} once handed the path value to the
// store, whose subject check refused a secret (it holds '.' and ':'): the
// answer was a 500, and the store's error, which quoted the secret, was
// logged at ERROR. A held secret now resolves to its token; any other
// value that cannot be an id is a 404 that never reaches the store.
func TestStateOfATokenGivenASecretOrAWildcardIsA4xxAndLogsNoSecret(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	secret, _ := s.CreateToken("backend", "development")
	tests := []struct {
		name, id string
		want     int
	}{
		// The ledger routes take an id or the full secret (README).
		{"a backend token's secret", secret, http.StatusOK},
		{"the admin token's secret", servicetest.SpareAdminSecret, http.StatusOK},
		{"a secret of no token", "*:development.0000000000000000000000000000000000000000000000000000000000000000", http.StatusNotFound},
		{"a dotted id", "a.b", http.StatusNotFound},
		{"a wildcard", "*", http.StatusNotFound},
		{"a full wildcard", ">", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Do("GET", "/api/ledger/state/tokens/"+url.PathEscape(tt.id), servicetest.AdminSecret, nil)
			if r.Status != tt.want {
				t.Errorf("status %d, want %d: %.200s", r.Status, tt.want, r.Body)
			}
			if strings.Contains(string(r.Body), tt.id) && len(tt.id) > 3 {
				t.Errorf("the answer repeats the path value: %.300s", r.Body)
			}
		})
	}
	logs := s.Logs()
	for _, sec := range []string{secret, servicetest.SpareAdminSecret} {
		if i := strings.Index(logs, sec); i >= 0 {
			start := max(0, strings.LastIndexByte(logs[:i], '\n')+1)
			end := i + len(sec) + 200
			if end > len(logs) {
				end = len(logs)
			}
			t.Errorf("a secret is in the service's log: %s", logs[start:end])
		}
	}
}

// Every audit.queried record keeps the request's filters, with a value
// that is exactly a secret replaced by "[secret]". A secret sent with a
// surrounding blank, after "Bearer ", or as a parameter's name (recorded
// for a denied caller, whose query is not parsed) reaches the stream as
// is: anyone with READ_AUDIT_LOG (and every export for the SIEM) reads it.
func TestAuditReadRecordsHoldNoSecretInAnyShape(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	secret, _ := s.CreateToken("backend", "development")
	viewer := s.CreateUser("viewer", "Viewer")
	q := url.QueryEscape
	tests := []struct {
		name, cred, path string
		canary           string
	}{
		{"admin, token= with a trailing blank", servicetest.AdminSecret, "/api/ledger/events?token=" + q(secret+" "), secret},
		{"admin, credential= with a leading blank", servicetest.AdminSecret, "/api/ledger/events?credential=" + q(" "+secret), secret},
		{"admin, actor= as an Authorization value", servicetest.AdminSecret, "/api/ledger/events?actor=" + q("Bearer "+secret), secret},
		{"denied viewer, a secret as a parameter name", viewer.Secret, "/api/ledger/events?" + q(servicetest.SpareAdminSecret) + "=1", servicetest.SpareAdminSecret},
		{"denied viewer, token= with a trailing blank", viewer.Secret, "/api/ledger/events?token=" + q(servicetest.SpareAdminSecret+" "), servicetest.SpareAdminSecret},
		{"denied viewer, a path id with a trailing blank", viewer.Secret, "/api/ledger/state/tokens/" + url.PathEscape(secret+" "), secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.LastSeq()
			r := s.Do("GET", tt.path, tt.cred, nil)
			after := s.LastSeq()
			if after == before {
				t.Logf("nothing appended (status %d)", r.Status)
				return
			}
			for _, e := range s.Events(before+1, after) {
				if strings.Contains(string(e.Data), tt.canary) {
					t.Errorf("status %d; the %s at sequence %d holds a secret: %s", r.Status, e.Type, e.Sequence, e.Data)
				}
			}
		})
	}
}

// GET /api/ledger/events and /api/ledger/state/tokens/{id} refuse unknown
// and repeated parameters (issue 14: "Unknown parameters and malformed
// values → 400"). The other reads of the trail ignore unknown ones and
// silently answer for the first of two values, while the audit.queried
// record keeps both: a client's typo (a misspelt at=, a second from_seq=)
// gets another answer than the one asked for, and the record of the read
// does not say which one was given.
func TestLedgerReadsRefuseUnknownAndRepeatedParameters(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0; c.CheckpointEvery = 2 })
	_, id := s.CreateToken("backend", "development")
	servicetest.WaitFor(t, 30*time.Second, func() error {
		if r := s.Do("GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil); r.Status != http.StatusOK {
			return fmt.Errorf("no checkpoint yet: %d", r.Status)
		}
		return nil
	})
	for _, path := range []string{
		"/api/ledger/state?seq=3&seq=4",
		"/api/ledger/state?at=3&at=2026-01-01T00:00:00Z",
		"/api/ledger/state?at=3&token=x",
		"/api/ledger/state?seq=3&format=csv",
		"/api/ledger/tokens/" + id + "/history?type=token.revoked",
		"/api/ledger/bundle?from_seq=1&from_seq=2",
		"/api/ledger/bundle?from=2",
		"/api/ledger/events/1/proof?size=1&size=2",
		"/api/ledger/proof/consistency?from=1&from=2&to=3",
	} {
		t.Run(path, func(t *testing.T) {
			r := s.Do("GET", path, servicetest.AdminSecret, nil)
			if r.Status != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %.200s", r.Status, r.Body)
			}
		})
	}
}
