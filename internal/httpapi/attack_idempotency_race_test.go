package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A client that retries a create on a timeout, in parallel (several
// workers, a proxy that retries, a queue that redelivers), sends the same
// request under the same Idempotency-Key several times at once. The README:
// "a retry with the same key creates nothing new and answers 200 with the
// first result"; 422 is for "the same key sent with a different request".
// Sixteen byte-identical requests at once: one is created (201) and the
// others must be replays (200); in some rounds several are refused with
// 422 IdempotencyKeyReusedError ("already used with a different request"),
// which tells the client its request differed when it did not.
func TestIdenticalConcurrentRetriesUnderOneKeyAreReplaysNotRefusals(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	const rounds, parallel = 20, 16
	deadline := time.Now().Add(60 * time.Second)
	for round := 0; round < rounds && time.Now().Before(deadline); round++ {
		key := fmt.Sprintf("retry-key-%d", round)
		body := fmt.Sprintf(`{"tokenName":"retried-%d","type":"backend","environment":"development"}`, round)
		var mu sync.Mutex
		statuses := map[int]int{}
		var refusal string
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				req, err := http.NewRequest("POST", s.URL()+"/api/admin/api-tokens", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Authorization", servicetest.AdminSecret)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				defer mu.Unlock()
				statuses[resp.StatusCode]++
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
					refusal = string(b)
				}
			})
		}
		wg.Wait()
		if statuses[http.StatusCreated] != 1 || statuses[http.StatusOK] != parallel-1 {
			t.Fatalf("round %d: statuses %v for %d identical requests under one key, want one 201 and %d 200; a refusal: %.200s",
				round, statuses, parallel, parallel-1, refusal)
		}
	}
}
