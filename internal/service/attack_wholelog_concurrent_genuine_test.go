package service

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// On a genuine ledger while the whole-log check is pending, 16 concurrent
// changes of one token (and of a token created in the window) must not
// be refused as a gap in the aggregate's chain (503): the chains applied
// by the projections lag the stream, and a read that holds events they
// have not applied yet is still the whole chain.
func TestConcurrentChangesOfOneTokenAreNotRefusedWhileTheWholeLogCheckIsPending(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	m0, _ := startLedger(t, dir, 4)
	st, out := call(t, m0, "POST", "/api/admin/api-tokens", map[string]any{"tokenName": "cc", "type": "backend", "environment": "development"})
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, out)
	}
	old, _ := m0.Tokens.Lookup(out["secret"].(string))
	tokenLife(t, m0, "after")
	if err := m0.Close(); err != nil {
		t.Fatal(err)
	}
	m, _, release := startChecked(t, dir, true, true)
	defer release()
	st, out = call(t, m, "POST", "/api/admin/api-tokens", map[string]any{"tokenName": "cn", "type": "backend", "environment": "development"})
	if st != http.StatusCreated {
		t.Fatalf("create while pending: %d %v", st, out)
	}
	fresh, _ := m.Tokens.Lookup(out["secret"].(string))
	var mu sync.Mutex
	codes := map[int]int{}
	var bad []string
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := old.ID
				if i%2 == 1 {
					id = fresh.ID
				}
				at := time.Date(2031+round, 1, 1+i, 0, 0, 0, 0, time.UTC)
				st, b := text(t, m, "PUT", "/api/admin/api-tokens/"+id, map[string]any{"expiresAt": at.Format(time.RFC3339)})
				mu.Lock()
				defer mu.Unlock()
				codes[st]++
				if st >= 500 {
					bad = append(bad, fmt.Sprintf("%d %.200s", st, b))
				}
			}()
		}
		wg.Wait()
	}
	t.Logf("answers: %v", codes)
	if len(bad) > 0 {
		t.Errorf("%d of 48 genuine changes refused while pending, e.g. %s", len(bad), bad[0])
	}
}
