package httpapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An Edge validates its whole token list in one batch (up to 1,000). When
// more of its tokens than the address's burst are unknown to the ledger
// (never issued here: another instance's, mistyped; a deleted token stays
// known and is not charged), takeN refuses the batch forever: n > burst
// never fits, each refusal charges a burst into debt, and Retry-After ("the
// wait for a full bucket") promises a retry that is refused again. The
// Edge's valid tokens are never answered, and nothing tells it the batch
// can never fit (a 429 asks it to retry). Driven by a test clock.
func TestEdgeBatchWithMoreUnknownTokensThanTheBurstGetsThroughAfterRetryAfter(t *testing.T) {
	const burst = 5
	s, clock := startWithClockedBudget(t, burst)
	valid, _ := s.CreateToken("client", "development")
	batch := []string{valid}
	batch = append(batch, guesses("never-issued", burst+1)...)
	s.CatchUp()
	const retries = 5
	for i := range retries {
		r := s.Do("POST", "/edge/validate", "", map[string]any{"tokens": batch})
		if r.Status == http.StatusOK {
			if !strings.Contains(string(r.Body), valid) {
				t.Fatalf("answer %d holds not the valid token: %s", i, r.Body)
			}
			return
		}
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("attempt %d: status %d: %s", i, r.Status, r.Body)
		}
		secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil {
			t.Fatalf("attempt %d: Retry-After %q: %v", i, r.Header.Get("Retry-After"), err)
		}
		clock.Advance(time.Duration(secs+1) * time.Second) // the Edge waits longer than asked
	}
	t.Fatalf("an Edge whose batch holds %d never-issued tokens (burst %d) and a valid one was refused 429 on each of %d "+
		"retries made after its Retry-After: it is never answered", burst+1, burst, retries)
}
