package service_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// atkAnswer is one request's answer in the mixed burst.
type atkAnswer struct {
	what   string
	kind   int
	i      int
	status int
	retry  string
	body   string
	seqHdr string // X-Ledger-Sequence
	at     time.Time
}

func atkDo(base, method, path, key string, body any) atkAnswer {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = strings.NewReader(string(j))
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", servicetest.AdminSecret)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	a := atkAnswer{what: method + " " + path}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	a.at = time.Now()
	if err != nil {
		a.body = err.Error()
		return a
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a.status, a.body, a.retry = resp.StatusCode, string(b), resp.Header.Get("Retry-After")
	a.seqHdr = resp.Header.Get("X-Ledger-Sequence")
	return a
}

// TestLeaderLossDuringMixedBurstOfClaimsAndCascades runs two replicas on a
// 3-node cluster and, during a bounded burst of role creates (Idempotency-Key,
// name claims), role renames (release + claim in one atomic batch), user
// creates (two claims) and project deletions that cascade to a token
// (Idempotency-Key), stops the stream's leader. Every answer must be 2xx or
// 503 with Retry-After; no event is stored twice (same command, type and
// aggregate), no name is claimed twice without a release in between.
func TestLeaderLossDuringMixedBurstOfClaimsAndCascades(t *testing.T) {
	for _, victim := range []string{"leader", "replica-node", "quorum", "leader-own"} {
		t.Run(victim, func(t *testing.T) { atkMixedBurst(t, victim) })
	}
}

func atkMixedBurst(t *testing.T, victim string) {
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	var a, b *servicetest.Service
	var leader int
	if victim == "leader-own" {
		// Both replicas connected to the stream leader's node (the others
		// are learnt from it): its loss is their own node's loss too.
		first := startReplica(t, c, key)
		nc := c.Connect()
		leader = c.WaitStreamCurrent(nc, jsstore.DefaultStream)
		own := func() *servicetest.Service {
			return servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
				cfg.NATSURL, cfg.MutationRate, cfg.ReadWait = c.ClientURL(leader), 0, atkOwnReadWait
				cfg.SigningKey = key
				cfg.AllowUnsafeDurability = true
			})
		}
		_ = first
		a, b = own(), own()
	} else {
		a = startReplica(t, c, key)
		b = startReplica(t, c, key)
		nc := c.Connect()
		leader = c.WaitStreamCurrent(nc, jsstore.DefaultStream)
	}

	const n = 30 // per kind
	roleIDs := make([]int, n)
	for i := range n {
		roleIDs[i] = a.CreateRole(fmt.Sprintf("pre-%d", i), "custom")
		a.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret,
			map[string]any{"id": fmt.Sprintf("proj-%d", i), "name": fmt.Sprintf("proj-%d", i)})
		a.CreateToken("client", "development", fmt.Sprintf("proj-%d", i))
	}
	b.CatchUp()

	type job struct {
		i    int
		kind int
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var outs []atkAnswer
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				base := []*servicetest.Service{a, b}[(j.i+w)%2].URL()
				r := atkSend(a, b, roleIDs, base, j.kind, j.i)
				r.kind, r.i = j.kind, j.i
				mu.Lock()
				outs = append(outs, r)
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(40 * time.Second)
	var killedAt time.Time
	restart := func() {}
	sent := 0
	for i := range n {
		for kind := range 6 {
			if time.Now().After(deadline) {
				break
			}
			if sent == n*6/3 {
				killedAt = time.Now()
				kill := leader
				if victim == "replica-node" {
					// not the leader: the node with the most client connections
					// (a replica's own), so its client must fail over too
					best := -1
					for k := range 3 {
						if k != leader && (best < 0 || c.Server(k).NumClients() > c.Server(best).NumClients()) {
							best = k
						}
					}
					kill = best
				}
				if victim == "quorum" {
					kill = (leader + 1) % 3
				}
				c.Stop(kill)
				if victim == "quorum" { // two of three for 15 s: past the 12 s retry budget
					other := 3 - leader - kill
					c.Stop(other)
					timer := time.AfterFunc(15*time.Second, func() { c.Restart(other); c.Restart(kill) })
					defer timer.Stop()
				} else {
					restart = func() { c.Restart(kill) }
				}
			}
			jobs <- job{i: i, kind: kind}
			sent++
		}
	}
	close(jobs)
	wg.Wait()
	restart()

	counts := map[int]int{}
	for _, o := range outs {
		counts[o.status]++
		ok := o.status >= 200 && o.status < 300 || o.status == http.StatusServiceUnavailable && o.retry != "" ||
			o.kind >= 4 && o.status == http.StatusConflict
		if !ok {
			t.Errorf("%s answered %d (Retry-After %q, %s after the stop): %s", o.what, o.status, o.retry, o.at.Sub(killedAt), o.body)
		}
	}
	t.Logf("%s: answers %v", victim, counts)

	// Resolve the 503s by sending the same request again (same key, same
	// body), as a client would: it must then answer 2xx (409 only for the
	// contested names).
	if victim == "quorum" {
		time.Sleep(16 * time.Second) // the nodes are back
	}
	nc2 := c.Connect()
	c.WaitStreamCurrent(nc2, jsstore.DefaultStream)
	a.CatchUp()
	for idx, o := range outs {
		if o.status != http.StatusServiceUnavailable {
			continue
		}
		if !strings.Contains(o.body, "may or may not") && atkStored(a, o) {
			t.Errorf("%s answered 503 without \"may or may not\" (nothing stored), but its change is in the ledger: %s", o.what, o.body)
		}
		var r atkAnswer
		for try := 0; try < 20; try++ { // bounded
			r = atkRedo(a, b, roleIDs, o)
			if r.status != http.StatusServiceUnavailable && r.status != 0 {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		ok := r.status >= 200 && r.status < 300 || o.kind >= 4 && r.status == http.StatusConflict
		if !ok {
			t.Errorf("%s answered 503 (%s), then %d to the same request again: %s", o.what, o.body, r.status, r.body)
		}
		r.at = o.at
		outs[idx] = r
	}
	a.CatchUp()
	b.CatchUp()
	lost := 0
	users := map[string]bool{}
	for _, u := range a.Dir.Users() {
		users[u.Username] = true
	}
	contestedWins := map[int]int{}
	for _, o := range outs {
		if o.status < 200 || o.status >= 300 {
			continue
		}
		var present bool
		switch o.kind {
		case 0:
			_, present = a.Dir.RoleByName(fmt.Sprintf("new-%d", o.i))
		case 1:
			_, present = a.Dir.RoleByName(fmt.Sprintf("renamed-%d", o.i))
		case 2:
			present = users[fmt.Sprintf("u%d", o.i)]
		case 3:
			pr, _ := a.Dir.Project(fmt.Sprintf("proj-%d", o.i))
			present = pr.Deleted
		default:
			_, present = a.Dir.RoleByName(fmt.Sprintf("contested-%d", o.i))
			contestedWins[o.i]++
		}
		if !present {
			lost++
			t.Errorf("acknowledged %s (%d, %s after the stop) is not in the ledger: %s", o.what, o.status, o.at.Sub(killedAt), o.body)
		}
	}
	for i, w := range contestedWins {
		if w > 1 {
			t.Errorf("name contested-%d was acknowledged to both replicas' creates", i)
		}
	}
	if a.Dir.Digest() != b.Dir.Digest() {
		t.Errorf("replicas' directories diverge")
	}
	type evKey struct{ cmd, typ, agg string }
	seen := map[evKey]int{}
	held := map[string]bool{}
	for _, e := range a.Events(1, a.LastSeq()) {
		if e.CommandID != "" {
			k := evKey{e.CommandID, e.Type, e.AggregateID}
			if seen[k]++; seen[k] == 2 {
				t.Errorf("event %s on %s %s stored twice by command %s", e.Type, e.AggregateKind, e.AggregateID, e.CommandID)
			}
		}
		if e.AggregateKind == events.KindName {
			switch {
			case strings.HasSuffix(e.Type, "claimed"):
				if held[e.AggregateID] {
					t.Errorf("name %s claimed twice without a release (seq %d)", e.AggregateID, e.Sequence)
				}
				held[e.AggregateID] = true
			case strings.HasSuffix(e.Type, "released"):
				held[e.AggregateID] = false
			}
		}
	}
}

func atkSend(a, b *servicetest.Service, roleIDs []int, base string, kind, i int) atkAnswer {
	switch kind {
	case 0:
		return atkDo(base, "POST", "/api/admin/roles", fmt.Sprintf("role-key-%d", i),
			map[string]any{"name": fmt.Sprintf("new-%d", i), "type": "custom", "permissions": []any{}})
	case 1:
		return atkDo(base, "PUT", "/api/admin/roles/"+strconv.Itoa(roleIDs[i]), "",
			map[string]any{"name": fmt.Sprintf("renamed-%d", i), "permissions": []any{}})
	case 2:
		return atkDo(base, "POST", "/api/admin/user-admin", fmt.Sprintf("user-key-%d", i),
			map[string]any{"username": fmt.Sprintf("u%d", i), "email": fmt.Sprintf("u%d@example.com", i), "rootRole": "Viewer"})
	case 3:
		return atkDo(base, "DELETE", fmt.Sprintf("/api/admin/projects/proj-%d", i), fmt.Sprintf("del-key-%d", i), nil)
	case 4: // one name contested by both replicas: one wins, the other 409
		return atkDo(a.URL(), "POST", "/api/admin/roles", fmt.Sprintf("ca-key-%d", i),
			map[string]any{"name": fmt.Sprintf("contested-%d", i), "type": "custom", "permissions": []any{}})
	default:
		return atkDo(b.URL(), "POST", "/api/admin/roles", fmt.Sprintf("cb-key-%d", i),
			map[string]any{"name": fmt.Sprintf("contested-%d", i), "type": "custom", "permissions": []any{}})
	}
}

func atkRedo(a, b *servicetest.Service, roleIDs []int, o atkAnswer) atkAnswer {
	r := atkSend(a, b, roleIDs, a.URL(), o.kind, o.i)
	r.kind, r.i = o.kind, o.i
	return r
}

// atkStored tells whether o's change is in a's directory.
func atkStored(a *servicetest.Service, o atkAnswer) bool {
	switch o.kind {
	case 0:
		_, ok := a.Dir.RoleByName(fmt.Sprintf("new-%d", o.i))
		return ok
	case 1:
		_, ok := a.Dir.RoleByName(fmt.Sprintf("renamed-%d", o.i))
		return ok
	case 2:
		for _, u := range a.Dir.Users() {
			if u.Username == fmt.Sprintf("u%d", o.i) {
				return true
			}
		}
		return false
	case 3:
		pr, _ := a.Dir.Project(fmt.Sprintf("proj-%d", o.i))
		return pr.Deleted
	}
	return false // contested: the other replica's create may hold it
}

var atkOwnReadWait = 10 * time.Second
