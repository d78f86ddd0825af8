package service_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// atk-r29: an auditor verifies replica B with the head kept from replica
// A while B is still applying those records, and stays behind for longer
// than the routes' wait (a replica catching up after a partition, a long
// GC pause under a burst). B's stream holds every record the kept head
// signs: nothing was cut. B's checkpoint route waits (min_size) and then
// answers with B's shorter checkpoint; the consistency route waits too,
// and then answered 422 "to at most the tree's size", the answer of a
// stream that holds fewer records: verify named tail-truncation (exit 7,
// TAMPERED) for an honest cluster. A replica whose stream holds the
// records but whose tree has not reached them within the wait now says
// so with 503 and Retry-After (waiting ends it); verify waits within its
// budget and, when the replica is still behind, reports that it could
// not verify (exit 1), never TAMPERED.
func TestAttackR29VerifyAgainstAReplicaBehindForLongerThanTheWaitIsNotTampered(t *testing.T) {
	l := startLaggingReplica(t)
	// b stays behind for 25 s: longer than both of the routes' waits.
	time.AfterFunc(25*time.Second, l.free)

	// Its routes: a stream that holds fewer records is refused at once
	// (422), one that holds them is waited for, then "retry" (503).
	start := time.Now()
	r := l.b.Do("GET", fmt.Sprintf("/api/ledger/proof/consistency?from=1&to=%d", l.cp.Size+1000), servicetest.AdminSecret, nil)
	if took := time.Since(start); r.Status != http.StatusUnprocessableEntity || took > time.Second {
		t.Errorf("a consistency proof to past b's stream: %d after %s, want 422 at once", r.Status, took)
	}
	for _, path := range []string{
		fmt.Sprintf("/api/ledger/proof/consistency?from=1&to=%d", l.cp.Size),
		fmt.Sprintf("/api/ledger/events/1/proof?size=%d", l.cp.Size),
	} {
		r := l.b.Do("GET", path, servicetest.AdminSecret, nil)
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "1" {
			t.Errorf("GET %s on b, still behind after the wait: %d Retry-After %q %s; want 503 with Retry-After 1", path, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}

	var stdout, stderr bytes.Buffer
	env := map[string]string{cli.EnvToken: servicetest.AdminSecret}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start = time.Now()
	code := cli.Run(ctx, []string{"verify", "--server", l.b.URL(), "--key", l.vkey, "--since-checkpoint", l.kept},
		cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
	t.Logf("verify --server B (behind) --since-checkpoint (A's head): exit %d after %s\n%s%s", code, time.Since(start).Round(time.Millisecond), stdout.String(), stderr.String())
	if code == cli.ExitTampered || strings.Contains(stdout.String(), "TAMPERED") {
		t.Errorf("verify --server against an honest replica behind the kept head for longer than the wait: exit %d (TAMPERED), want could not verify (1) or intact", code)
	}
	if code != cli.ExitOK {
		t.Errorf("exit %d, want 0 (intact: verify waits out the replica's 503s within its budget)", code)
	}
}
