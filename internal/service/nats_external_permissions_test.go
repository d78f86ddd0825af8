package service_test

// --nats-url: the ledger on an operator's server, with the permissions
// docs/decisions.md tells the operator to give it.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// documentedLedgerPermissions are the permissions docs/decisions.md
// ("With --nats-url the operator owns readers and the feed") lists for the
// ledger's user, word for word.
func documentedLedgerPermissions() *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			"ledger.>",
			"$JS.API.INFO",
			"$JS.API.STREAM.INFO.LEDGER", "$JS.API.STREAM.CREATE.LEDGER",
			"$JS.API.DIRECT.GET.LEDGER", "$JS.API.DIRECT.GET.LEDGER.>",
			"$JS.API.CONSUMER.CREATE.LEDGER.>", "$JS.API.CONSUMER.MSG.NEXT.LEDGER.>",
			"$JS.API.CONSUMER.INFO.LEDGER.>", "$JS.API.CONSUMER.DELETE.LEDGER.>",
			"$JS.API.CONSUMER.LIST.LEDGER",
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			"$JS.EVENT.ADVISORY.STREAM.UPDATED.LEDGER", "$JS.EVENT.ADVISORY.STREAM.DELETED.LEDGER", "_INBOX.>",
		}},
	}
}

// With exactly the documented permissions the start-up check passes, so
// every change must then work too. It does not: the environment rules read the last
// event on a subject filter with a Direct Get by subject
// ($JS.API.DIRECT.GET.LEDGER.<subject>), which neither the documented list
// nor the start-up probe covers, so the service starts GOOD and its writes
// fail (the item 6 symptom): deleting an environment answers 500
// after 5 s.
func TestDocumentedExternalPermissionsAreEnough(t *testing.T) {
	srv := natstest.RunServerWith(t, t.TempDir(), func(o *server.Options) {
		o.Users = []*server.User{{Username: "ledger", Password: "pw", Permissions: documentedLedgerPermissions()}}
	})
	url := strings.Replace(srv.ClientURL(), "nats://", "nats://ledger:pw@", 1)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSURL, c.ReadWait = url, 2*time.Second
		c.AllowUnsafeDurability = true // a test server: fsync unproven
	})
	s.Must(http.StatusOK, "GET", "/health", "", nil)
	steps := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"create a token", "POST", "/api/admin/api-tokens", map[string]any{"tokenName": "t", "type": "backend", "environment": "development"}, http.StatusCreated},
		{"create a user", "POST", "/api/admin/user-admin", map[string]any{"username": "ada", "email": "ada@example.com", "rootRole": "Viewer"}, http.StatusCreated},
		{"create a project", "POST", "/api/admin/projects", map[string]any{"id": "p1", "name": "P1"}, http.StatusCreated},
		{"create an environment", "POST", "/api/admin/environments", map[string]any{"name": "qa", "type": "test"}, http.StatusCreated},
		{"delete the environment", "DELETE", "/api/admin/environments/qa", nil, http.StatusOK},
	}
	for _, st := range steps {
		if r := s.Do(st.method, st.path, servicetest.AdminSecret, st.body); r.Status != st.want {
			t.Errorf("%s: %d, want %d: %s", st.name, r.Status, st.want, r.Body)
		}
	}
}
