package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// 16 clients keep asking a running ledger (reads, the audit routes, a
// write, a read waiting for a sequence not stored yet, the probes) while
// a forged event published into its stream stops its projections for
// good. Under -race: no race on the answers' headers. Every answer to a
// request sent once the stop is visible is, for a 503, without
// Retry-After (only a restart ends it); /ready answers 503
// LEDGER_TAMPERED without Retry-After, /health 200 LEDGER_TAMPERED (the
// process lives: Kubernetes must not restart it into a loop, nor route
// to it). A request waiting for a sequence when the projections stop
// (X-Ledger-Min-Sequence) ends without Retry-After too.
func TestAttackR28SixteenClientsWhileTheProjectionsStop(t *testing.T) {
	srv := natstest.RunServer(t)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.NATSURL, c.AllowUnsafeDurability = srv.ClientURL(), true
	})
	s.CreateToken("backend", "development")
	far := fmt.Sprint(s.LastSeq() + 1000)

	type req struct {
		method, path string
		body         any
		headers      []string
	}
	reqs := []req{
		{"GET", "/api/ledger/checkpoint", nil, nil},
		{"GET", "/api/ledger/bundle?from_seq=1&to_seq=1", nil, nil},
		{"GET", "/api/ledger/events?limit=1", nil, nil},
		{"GET", "/api/admin/api-tokens", nil, nil},
		{"GET", "/api/admin/api-tokens", nil, []string{"X-Ledger-Min-Sequence", far}},
		{"POST", "/api/admin/api-tokens", map[string]any{"tokenName": "r28", "type": "backend", "environment": "development", "projects": []string{"default"}}, nil},
		{"GET", "/ready", nil, nil},
		{"GET", "/health", nil, nil},
	}
	var stopped atomic.Bool
	type answer struct {
		req          req
		afterStop    bool // sent once the stop was visible
		endedStopped bool
		status       int
		retry        string
		health       string
	}
	var mu sync.Mutex
	var answers []answer
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second)
	for i := range 16 {
		wg.Go(func() {
			rounds := 0
			for n := 0; n < 400 && time.Now().Before(deadline); n++ {
				q := reqs[(i+n)%len(reqs)]
				after := stopped.Load()
				r := s.Do(q.method, q.path, servicetest.AdminSecret, q.body, q.headers...)
				var probe struct{ Health string }
				_ = json.Unmarshal(r.Body, &probe)
				mu.Lock()
				answers = append(answers, answer{q, after, stopped.Load(), r.Status, r.Header.Get("Retry-After"), probe.Health})
				mu.Unlock()
				if after {
					if rounds++; rounds > len(reqs) {
						return
					}
				}
			}
		})
	}

	time.Sleep(200 * time.Millisecond)
	subject, data := forgeAdminToken(t, s, nil)
	js, err := jetstream.New(natstest.Connect(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), subject, data); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, s)
	stopped.Store(true)
	wg.Wait()

	var after, straddled int
	for _, a := range answers {
		if !a.afterStop {
			if a.endedStopped && a.status == http.StatusServiceUnavailable && a.retry != "" {
				straddled++
				t.Logf("sent before the stop was visible, answered after: %s %s: 503 Retry-After %q", a.req.method, a.req.path, a.retry)
			}
			continue
		}
		after++
		switch a.req.path {
		case "/health":
			if a.status != http.StatusOK || a.health != "LEDGER_TAMPERED" {
				t.Errorf("/health after the stop: %d %q, want 200 LEDGER_TAMPERED", a.status, a.health)
			}
		case "/ready":
			if a.status != http.StatusServiceUnavailable || a.health != "LEDGER_TAMPERED" || a.retry != "" {
				t.Errorf("/ready after the stop: %d %q Retry-After %q, want 503 LEDGER_TAMPERED without Retry-After", a.status, a.health, a.retry)
			}
		default:
			if a.status != http.StatusServiceUnavailable || a.retry != "" {
				t.Errorf("%s %s after the stop: %d Retry-After %q, want 503 without Retry-After", a.req.method, a.req.path, a.status, a.retry)
			}
		}
	}
	if after < 16 {
		t.Errorf("only %d answers after the stop", after)
	}
	t.Logf("%d answers, %d after the stop, %d straddling it with Retry-After", len(answers), after, straddled)
}
