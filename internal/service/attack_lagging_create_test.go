package service_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// TestStoredCreateWhoseProjectionLagsIsNot500 sends creates (role, user,
// project) with an Idempotency-Key to a cluster replica whose projections
// lag behind its own writes longer than its read wait (here forced with a
// tiny read wait; in a failover the lag is the consumer's recreate). The
// write is stored: the answer must be 2xx (with the lagging marker), or
// 503 with Retry-After, never 500; and the same request sent again must
// not be refused either.
func TestStoredCreateWhoseProjectionLagsIsNot500(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	a := servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
		cfg.NATSURL, cfg.MutationRate, cfg.ReadWait = c.URLs(), 0, time.Nanosecond
		cfg.SigningKey = key
		cfg.AllowUnsafeDurability = true
	})
	bad := 0
	for i := range 10 {
		for _, r := range []struct {
			path, key string
			body      any
		}{
			{"/api/admin/roles", fmt.Sprintf("lag-role-%d", i), map[string]any{"name": fmt.Sprintf("lag-%d", i), "type": "custom", "permissions": []any{}}},
			{"/api/admin/user-admin", fmt.Sprintf("lag-user-%d", i), map[string]any{"username": fmt.Sprintf("lag%d", i), "email": fmt.Sprintf("lag%d@example.com", i), "rootRole": "Viewer"}},
			{"/api/admin/projects", fmt.Sprintf("lag-proj-%d", i), map[string]any{"id": fmt.Sprintf("lag-%d", i), "name": fmt.Sprintf("lag-%d", i)}},
			{"/api/admin/service-account", fmt.Sprintf("lag-sa-%d", i), map[string]any{"name": fmt.Sprintf("lagsa%d", i), "username": fmt.Sprintf("lagsa%d", i), "rootRole": "Viewer"}},
		} {
			o := atkDo(a.URL(), "POST", r.path, r.key, r.body)
			ok := o.status >= 200 && o.status < 300 || o.status == http.StatusServiceUnavailable && o.retry != ""
			if ok && o.status < 300 && !strings.Contains(o.body, fmt.Sprintf("lag%s%d", map[bool]string{true: "-", false: ""}[r.path != "/api/admin/user-admin" && r.path != "/api/admin/service-account"], i)) &&
				!strings.Contains(o.body, fmt.Sprintf("lagsa%d", i)) {
				bad++
				t.Errorf("POST %s (stored at seq %s) answered %d with a body that is not the created resource: %s", r.path, o.seqHdr, o.status, o.body)
			}
			if !ok {
				bad++
				a.CatchUp()
				again := atkDo(a.URL(), "POST", r.path, r.key, r.body)
				t.Errorf("POST %s (stored at seq %s) answered %d: %s; sent again: %d %s", r.path, o.seqHdr, o.status, o.body, again.status, again.body)
			}
		}
	}
	t.Logf("%d of 40 creates answered neither 2xx nor 503 (or an empty body)", bad)

	// An update of a lagging replica: 200 with the role as it was before.
	a.CatchUp()
	id := a.CreateRole("lag-rename-from", "custom")
	stale := 0
	for i := range 10 {
		o := atkDo(a.URL(), "PUT", fmt.Sprintf("/api/admin/roles/%d", id), "", map[string]any{"name": fmt.Sprintf("lag-rename-%d", i), "permissions": []any{}})
		if o.status == http.StatusOK && !strings.Contains(o.body, fmt.Sprintf("lag-rename-%d", i)) {
			stale++
			if stale == 1 {
				t.Errorf("PUT role (stored at seq %s) answered 200 with the role before the rename: %s", o.seqHdr, o.body)
			}
		}
	}
	t.Logf("%d of 10 renames answered 200 with the old role", stale)
}
