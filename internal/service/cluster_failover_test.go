package service_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
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

// outcome is what one create answered.
type outcome struct {
	key    string // Idempotency-Key
	i      int    // the create's number (its body)
	status int
	secret string // set when acknowledged (201, or 200 for a replay)
	id     string // the token's id, from Location
	body   string
	retry  string // Retry-After
	seq    string // X-Ledger-Sequence: where an acknowledged create's event is
	at     time.Time
}

// startReplica starts a ledger replica on the cluster without mutation
// rate limits (the burst comes from one admin token). Replicas of one
// ledger share its signing key file (key).
func startReplica(t *testing.T, c *natstest.Cluster, key string) *servicetest.Service {
	t.Helper()
	return servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
		cfg.NATSURL, cfg.MutationRate, cfg.ReadWait = c.URLs(), 0, 10*time.Second
		cfg.SigningKey = key
		cfg.AllowUnsafeDurability = true // no system user to prove the nodes' sync_interval: always
	})
}

// create sends one token create with an Idempotency-Key to base.
func create(base, key string, i int) outcome {
	body := fmt.Sprintf(`{"tokenName":"burst-%d","type":"client","environment":"development"}`, i)
	req, _ := http.NewRequest("POST", base+"/api/admin/api-tokens", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", servicetest.AdminSecret)
	req.Header.Set("Idempotency-Key", key)
	o := outcome{key: key, i: i}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	o.at = time.Now()
	if err != nil {
		o.body = err.Error()
		return o
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	o.status, o.body, o.retry = resp.StatusCode, string(b), resp.Header.Get("Retry-After")
	o.seq = resp.Header.Get("X-Ledger-Sequence")
	if o.status == http.StatusCreated || o.status == http.StatusOK { // 200: a replayed key
		var v struct{ Secret string }
		_ = json.Unmarshal(b, &v)
		o.secret = v.Secret
		o.id = resp.Header.Get("Location")[strings.LastIndex(resp.Header.Get("Location"), "/")+1:]
	}
	return o
}

// TestLeaderLossDuringABurstLosesNoAcknowledgedCreate runs two ledger
// replicas on a 3-node cluster (sync always, R3), sends a bounded burst of
// token creates through both and stops the stream's leader in the
// middle. Every create answers 201 or 503 with Retry-After (never 500);
// after the burst, unresolved ones are retried with their key; every
// acknowledged token is in the stream exactly once, no key created two
// tokens, both replicas converge to the same state digests, and a replica
// started late has the same digests as soon as it reports ready.
func TestLeaderLossDuringABurstLosesNoAcknowledgedCreate(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	a := startReplica(t, c, key)
	b := startReplica(t, c, key)
	nc := c.Connect()
	leader := c.WaitStreamCurrent(nc, jsstore.DefaultStream)

	const total, workers = 60, 4
	deadline := time.Now().Add(40 * time.Second) // the burst is bounded in time too
	jobs := make(chan int)
	var mu sync.Mutex
	var outs []outcome
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				base := []*servicetest.Service{a, b}[(i+w)%2].URL()
				o := create(base, fmt.Sprintf("burst-key-%d", i), i)
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
			}
		}()
	}
	var killedAt time.Time
	for i := range total {
		if time.Now().After(deadline) {
			break
		}
		if i == total/3 {
			killedAt = time.Now()
			c.Stop(leader)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	// Outcomes: ok (201), failed (503: nothing stored or outcome unknown),
	// never a 500 or another status.
	counts := map[string]int{}
	var firstOKAfterKill time.Time
	for _, o := range outs {
		switch {
		case o.secret != "": // 201, or 200 when the command found its own earlier attempt stored
			if o.status == http.StatusOK {
				counts["ok-replayed"]++
			}
			counts["ok"]++
			if o.at.After(killedAt) && (firstOKAfterKill.IsZero() || o.at.Before(firstOKAfterKill)) {
				firstOKAfterKill = o.at
			}
		case o.status == http.StatusServiceUnavailable && o.retry != "":
			if strings.Contains(o.body, "may or may not") {
				counts["unknown"]++
			} else {
				counts["failed"]++
			}
		default:
			t.Errorf("create %s answered %d (Retry-After %q): %s", o.key, o.status, o.retry, o.body)
		}
	}
	t.Logf("burst of %d creates across a leader loss: %v; first acknowledged create %s after the leader stopped",
		len(outs), counts, firstOKAfterKill.Sub(killedAt))
	if counts["ok"] == 0 {
		t.Fatal("no create was acknowledged")
	}

	// Resolve the 503s with the same key, as a client would: each is then
	// stored once.
	c.Restart(leader)
	for i, o := range outs {
		if o.secret != "" {
			continue
		}
		var r outcome
		for try := 0; try < 20; try++ { // bounded
			if r = create(a.URL(), o.key, o.i); r.secret != "" {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if r.secret == "" {
			t.Fatalf("retry of %s: %d %s", o.key, r.status, r.body)
		}
		outs[i] = r
	}

	a.CatchUp()
	b.CatchUp()
	created := map[string]int{} // token id → token.created events
	byCommand := map[string]int{}
	for _, e := range a.Events(1, a.LastSeq()) {
		if e.AggregateKind == events.KindToken && strings.HasSuffix(e.Type, "created") {
			created[e.AggregateID]++
			byCommand[e.CommandID]++
		}
	}
	lost, dups := 0, 0
	for _, o := range outs {
		tok, ok := a.Tokens.ByID(o.id)
		if !ok {
			_, inB := b.Tokens.ByID(o.id)
			t.Errorf("acknowledged create %s (%d, at %s after the stop) is not in the ledger (in b's set: %v): %s", o.key, o.status, o.at.Sub(killedAt), inB, o.body)
			lost++
			continue
		}
		if created[tok.ID] != 1 {
			dups++
		}
	}
	for cmd, n := range byCommand {
		if n > 1 {
			t.Errorf("command %s created %d tokens", cmd, n)
		}
	}
	if lost != 0 || dups != 0 {
		t.Fatalf("lost acknowledged = %d, duplicates = %d (want 0, 0)", lost, dups)
	}
	b.CatchUp()
	if a.Runner.LastApplied() != b.Runner.LastApplied() || a.Tokens.Digest() != b.Tokens.Digest() || a.Dir.Digest() != b.Dir.Digest() {
		t.Fatalf("replicas diverge: last applied %d/%d, token set %s/%s", a.Runner.LastApplied(), b.Runner.LastApplied(), a.Tokens.Digest(), b.Tokens.Digest())
	}

	late := startReplica(t, c, key) // Run returns once it caught up: ready
	if late.Runner.LastApplied() != a.Runner.LastApplied() || late.Tokens.Digest() != a.Tokens.Digest() || late.Dir.Digest() != a.Dir.Digest() {
		t.Fatalf("a late replica is ready at %d with token set %s, the others are at %d with %s",
			late.Runner.LastApplied(), late.Tokens.Digest(), a.Runner.LastApplied(), a.Tokens.Digest())
	}
}
