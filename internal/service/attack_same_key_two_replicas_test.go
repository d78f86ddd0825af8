package service_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// TestSameKeyOnBothReplicasAcrossLeaderLoss sends each create (a role, a
// user, a token) with one Idempotency-Key to both replicas at once, as a
// client that gave up on one replica and asked the other, while the
// stream's leader is stopped. Both answers are 2xx or 503 with
// Retry-After (the same request: never 409 or 422), and one thing is
// created per key.
func TestSameKeyOnBothReplicasAcrossLeaderLoss(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	a := startReplica(t, c, key)
	b := startReplica(t, c, key)
	nc := c.Connect()
	leader := c.WaitStreamCurrent(nc, jsstore.DefaultStream)

	const n = 24
	var mu sync.Mutex
	var outs []atkAnswer
	var wg sync.WaitGroup
	deadline := time.Now().Add(40 * time.Second)
	for i := range n {
		if time.Now().After(deadline) {
			break
		}
		if i == n/3 {
			c.Stop(leader)
		}
		for _, base := range []string{a.URL(), b.URL()} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var r atkAnswer
				switch i % 3 {
				case 0:
					r = atkDo(base, "POST", "/api/admin/roles", fmt.Sprintf("same-role-%d", i),
						map[string]any{"name": fmt.Sprintf("same-%d", i), "type": "custom", "permissions": []any{}})
				case 1:
					r = atkDo(base, "POST", "/api/admin/user-admin", fmt.Sprintf("same-user-%d", i),
						map[string]any{"username": fmt.Sprintf("same%d", i), "email": fmt.Sprintf("same%d@example.com", i), "rootRole": "Viewer"})
				default:
					r = atkDo(base, "POST", "/api/admin/api-tokens", fmt.Sprintf("same-tok-%d", i),
						map[string]any{"tokenName": fmt.Sprintf("same-%d", i), "type": "client", "environment": "development"})
				}
				r.i = i
				mu.Lock()
				outs = append(outs, r)
				mu.Unlock()
			}()
		}
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	c.Restart(leader)
	counts := map[int]int{}
	for _, o := range outs {
		counts[o.status]++
		if !(o.status >= 200 && o.status < 300 || o.status == http.StatusServiceUnavailable && o.retry != "") {
			t.Errorf("%s (key #%d, sent to both replicas) answered %d: %s", o.what, o.i, o.status, o.body)
		}
	}
	t.Logf("answers %v", counts)
	a.CatchUp()
	perCmd := map[string]int{}
	for _, e := range a.Events(1, a.LastSeq()) {
		if e.CommandID != "" && (e.Type == "role.created" || e.Type == "user.created" || e.Type == "token.created") {
			perCmd[e.CommandID]++
		}
	}
	roles, users := map[string]int{}, map[string]int{}
	for _, r := range a.Dir.Roles() {
		roles[r.Name]++
	}
	for _, u := range a.Dir.Users() {
		users[u.Username]++
	}
	for i := range n {
		if roles[fmt.Sprintf("same-%d", i)] > 1 || users[fmt.Sprintf("same%d", i)] > 1 {
			t.Errorf("key #%d created two things", i)
		}
	}
	for cmd, k := range perCmd {
		if k > 1 {
			t.Errorf("command %s created %d", cmd, k)
		}
	}
}
