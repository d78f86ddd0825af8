package service_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// kind classifies a create's answer: ok (acknowledged), failed (503,
// nothing was changed), unknown (503, may or may not be recorded), or
// wrong (anything else: a 500, a 503 without Retry-After, no answer).
func kind(o outcome) string {
	switch {
	case o.secret != "":
		return "ok"
	case o.status == http.StatusServiceUnavailable && o.retry != "" && strings.Contains(o.body, "may or may not"):
		return "unknown"
	case o.status == http.StatusServiceUnavailable && o.retry != "" && strings.Contains(o.body, "nothing was changed"):
		return "failed"
	}
	return "wrong"
}

// burst sends creates numbered from..to-1 through the replicas in turn,
// workers at a time, and returns their outcomes.
func burst(replicas []*servicetest.Service, prefix string, from, to, workers int) []outcome {
	jobs := make(chan int)
	var mu sync.Mutex
	var outs []outcome
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				o := create(replicas[i%len(replicas)].URL(), fmt.Sprintf("%s-%d", prefix, i), i)
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
			}
		}()
	}
	for i := from; i < to; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return outs
}

// waitReady waits (bounded) until base's /ready answers want.
func waitReady(t *testing.T, base string, want int, within time.Duration) string {
	t.Helper()
	var body string
	servicetest.WaitFor(t, within, func() error {
		var code int
		code, body = get(t, base, "/ready")
		if code != want {
			return fmt.Errorf("/ready: %d %s, want %d", code, body, want)
		}
		return nil
	})
	return body
}

// TestTwoOfThreeNodesDownRefusesCommandsAndHalfAppliesNone stops two of
// the three nodes (the stream's leader among them) under two replicas:
// every create answers 503 with Retry-After (never 500, never 201), both
// replicas report not ready; once the nodes are back, both are ready
// again and creates succeed; a create answered "nothing was changed" left
// no token in the stream, one answered "may or may not" is stored at most
// once (exactly once after its retry with the same key), and every create
// acknowledged before the outage is there once.
func TestTwoOfThreeNodesDownRefusesCommandsAndHalfAppliesNone(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	a := startReplica(t, c, key)
	b := startReplica(t, c, key)
	replicas := []*servicetest.Service{a, b}
	leader := c.WaitStreamCurrent(c.Connect(), jsstore.DefaultStream)

	before := burst(replicas, "quorum-key", 0, 6, 2)
	down := []int{leader, (leader + 1) % 3}
	for _, i := range down {
		c.Stop(i)
	}
	during := burst(replicas, "quorum-key", 6, 14, 4)
	for _, r := range replicas {
		// A leader that lost its quorum answers until it steps down (seconds).
		body := waitReady(t, r.URL(), http.StatusServiceUnavailable, 40*time.Second)
		if !strings.Contains(body, "LEDGER_REFUSES_WRITES") {
			t.Fatalf("/ready with two of three nodes down: %s", body)
		}
	}
	counts := map[string]int{}
	for _, o := range during {
		counts[kind(o)]++
		if k := kind(o); k == "ok" || k == "wrong" {
			t.Errorf("create %s with two of three nodes down answered %d (Retry-After %q): %s", o.key, o.status, o.retry, o.body)
		}
	}
	t.Logf("with two of three nodes down: %v", counts)

	for _, i := range down {
		c.StartAgain(i)
	}
	c.WaitReady()
	c.WaitStreamCurrent(c.Connect(), jsstore.DefaultStream)
	for _, r := range replicas {
		waitReady(t, r.URL(), http.StatusOK, 30*time.Second)
	}
	after := burst(replicas, "quorum-key", 14, 18, 2)
	for _, o := range append(before, after...) {
		if kind(o) != "ok" {
			t.Fatalf("create %s with every node up answered %d: %s", o.key, o.status, o.body)
		}
	}

	// The stream after recovery: what each answer promised.
	a.CatchUp()
	name := func(o outcome) string { return fmt.Sprintf("burst-%d", o.i) }
	lost, dups := 0, 0
	for _, o := range append(before, after...) {
		switch n := len(a.Tokens.ByName(name(o))); {
		case n == 0:
			lost++
		case n > 1:
			dups++
		}
	}
	for _, o := range during {
		n := len(a.Tokens.ByName(name(o)))
		switch kind(o) {
		case "failed":
			if n != 0 {
				t.Errorf("create %s answered \"nothing was changed\" but stored %d token(s)", o.key, n)
			}
		case "unknown":
			if n > 1 {
				dups++
			}
			r := create(a.URL(), o.key, o.i) // resolved with the same key
			if kind(r) != "ok" {
				t.Errorf("retry of %s: %d %s", o.key, r.status, r.body)
			}
			a.CatchUp()
			if n := len(a.Tokens.ByName(name(o))); n != 1 {
				t.Errorf("create %s retried with its key: %d tokens", o.key, n)
			}
		}
	}
	if lost != 0 || dups != 0 {
		t.Fatalf("lost acknowledged = %d, duplicates = %d (want 0, 0)", lost, dups)
	}
	b.CatchUp()
	if a.Tokens.Digest() != b.Tokens.Digest() {
		t.Fatalf("replicas diverge after recovery: %s / %s", a.Tokens.Digest(), b.Tokens.Digest())
	}
}
