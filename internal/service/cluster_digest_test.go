package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// replicaHealth is what /health tells an admin.
type replicaHealth struct {
	Health      string
	LastApplied uint64
	Staleness   *float64 `json:"stalenessSeconds"`
	State       *struct {
		LastApplied     uint64
		Digest          string
		TokenSetDigest  string
		DirectoryDigest string
	}
}

// adminHealth reads /health of base as an admin.
func adminHealth(t *testing.T, base string) replicaHealth {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/health", nil)
	req.Header.Set("Authorization", servicetest.AdminSecret)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var h replicaHealth
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &h) != nil {
		t.Fatalf("GET /health as admin: %d %s", resp.StatusCode, b)
	}
	return h
}

// streamLast is the stream's last sequence as the cluster reports it.
func streamLast(t *testing.T, c *natstest.Cluster) uint64 {
	t.Helper()
	js, _ := jetstream.New(c.Connect())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, jsstore.DefaultStream)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return st.CachedInfo().State.LastSeq
}

// metricValue is the value of an unlabelled metric in base's /metrics.
func metricValue(t *testing.T, base, name string) string {
	t.Helper()
	_, body := get(t, base, "/metrics")
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	return m[1]
}

// waitSameState waits (bounded) until every replica reports, to an
// admin, state at the stream's last sequence, and returns their reports.
func waitSameState(t *testing.T, c *natstest.Cluster, replicas ...*servicetest.Service) []replicaHealth {
	t.Helper()
	var hs []replicaHealth
	servicetest.WaitFor(t, 30*time.Second, func() error {
		last := streamLast(t, c)
		hs = hs[:0]
		for i, r := range replicas {
			h := adminHealth(t, r.URL())
			if h.State == nil || h.State.LastApplied != last {
				return fmt.Errorf("replica %d reports state %+v, the stream is at %d", i, h.State, last)
			}
			hs = append(hs, h)
		}
		return nil
	})
	return hs
}

// TestReplicasReportTheSameStateDigestAtTheSameSequence sends a burst of
// creates and revocations through two replicas of one cluster stream;
// both then report, in /health (to an admin) and in /metrics, the same
// state digest at the same sequence, and the digest moves with the next
// write.
func TestReplicasReportTheSameStateDigestAtTheSameSequence(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	a := startReplica(t, c, key)
	b := startReplica(t, c, key)
	replicas := []*servicetest.Service{a, b}

	const total = 40
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 4 {
				r := replicas[i%2]
				o := create(r.URL(), fmt.Sprintf("digest-key-%d", i), i)
				if o.secret == "" {
					errs <- fmt.Errorf("create %d: %d %s", i, o.status, o.body)
					continue
				}
				if i%3 == 0 { // revoke some, through the other replica
					other := replicas[(i+1)%2]
					req, _ := http.NewRequest("DELETE", other.URL()+"/api/admin/api-tokens/"+o.id, nil)
					req.Header.Set("Authorization", servicetest.AdminSecret)
					resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
					if err != nil {
						errs <- err
						continue
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						errs <- fmt.Errorf("revoke %d: %d", i, resp.StatusCode)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	hs := waitSameState(t, c, a, b)
	if hs[0].State.Digest == "" || hs[0].State.Digest != hs[1].State.Digest ||
		hs[0].State.TokenSetDigest != hs[1].State.TokenSetDigest || hs[0].State.DirectoryDigest != hs[1].State.DirectoryDigest {
		t.Fatalf("replicas at sequence %d report different states:\n a: %+v\n b: %+v", hs[0].State.LastApplied, *hs[0].State, *hs[1].State)
	}
	if a.Tokens.Digest() != hs[0].State.TokenSetDigest {
		t.Fatalf("/health reports token set digest %s, the token set's is %s", hs[0].State.TokenSetDigest, a.Tokens.Digest())
	}
	// /metrics serves the same digest (as a number) at the same sequence.
	servicetest.WaitFor(t, 10*time.Second, func() error {
		ma, mb := metricValue(t, a.URL(), "tokenledger_projections_digest"), metricValue(t, b.URL(), "tokenledger_projections_digest")
		sa, sb := metricValue(t, a.URL(), "tokenledger_projections_digest_sequence"), metricValue(t, b.URL(), "tokenledger_projections_digest_sequence")
		if sa != fmt.Sprint(hs[0].State.LastApplied) || sb != sa {
			return fmt.Errorf("/metrics: digest sequences %s and %s, health %d", sa, sb, hs[0].State.LastApplied)
		}
		if ma != mb || ma == "0" {
			t.Fatalf("/metrics at sequence %s: digest %s on a, %s on b", sa, ma, mb)
		}
		return nil
	})

	// The digest is the state's: one more write changes it on both.
	if o := create(a.URL(), "digest-key-last", total); o.secret == "" {
		t.Fatalf("create: %d %s", o.status, o.body)
	}
	after := waitSameState(t, c, a, b)
	if after[0].State.Digest == hs[0].State.Digest || after[0].State.Digest != after[1].State.Digest {
		t.Fatalf("after one more create: digests %s and %s (before: %s)", after[0].State.Digest, after[1].State.Digest, hs[0].State.Digest)
	}
}

// regexpMatch reports whether the pattern matches s.
func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
