package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Token introspection is the same token oracle as /edge/validate and
// /api/ledger/revoke, open to any caller with any credential (a Viewer's
// PAT): an unknown token sent for introspection must spend the client
// address's budget of unknown tokens like at the other two, so that a
// Viewer cannot test secrets without limit.
func TestIntrospectionSpendsTheAddressBudgetOfUnknownTokens(t *testing.T) {
	const burst = 3
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.UnauthRate, c.UnauthBurst = 0.01, burst
	})
	pat := "Bearer " + s.CreateUser("guesser", "Viewer").Secret
	const tries = 4 * burst
	for i := range tries {
		r := form(s, "/api/ledger/introspect", pat, url.Values{"token": {fmt.Sprintf("*:development.guess-%04d", i)}})
		if r.Status == http.StatusTooManyRequests {
			return // limited, as /edge/validate would be after burst guesses
		}
		if r.Status != http.StatusOK {
			t.Fatalf("guess %d: status %d: %s", i, r.Status, r.Body)
		}
	}
	// /edge/validate for comparison: the same address is limited there.
	edge := s.Do("POST", "/edge/validate", "", `{"tokens":["*:development.one-more-guess"]}`)
	t.Fatalf("a Viewer introspected %d unknown tokens from one address without a 429 (burst %d); /edge/validate now answers %d",
		tries, burst, edge.Status)
}

// The rate-limit budgets read the ledger's one clock (docs/decisions.md:
// "The HTTP rate-limit budgets read the same clock as the rest of the API
// (the commands' Now)"). The OAuth routes read the wall clock instead: an
// address that spent its budget at /api/ledger/revoke stays limited there
// after the ledger's clock has passed the refill, while /edge/validate,
// sharing the same bucket, is open again.
func TestRevocationBudgetReadsTheLedgerClock(t *testing.T) {
	const burst = 3
	s, clock := startWithClockedBudget(t, burst)
	limited := false
	for i := range 4 * burst {
		r := form(s, "/api/ledger/revoke", "", url.Values{"token": {fmt.Sprintf("*:development.unknown-%04d", i)}})
		if r.Status == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatalf("revocation of %d unknown tokens was never limited (burst %d)", 4*burst, burst)
	}
	clock.Advance(time.Hour) // far beyond the refill of a burst at 1 a second

	if r := s.Do("POST", "/edge/validate", "", `{"tokens":[]}`); r.Status != http.StatusOK {
		t.Fatalf("/edge/validate after the refill: %d %s", r.Status, r.Body)
	}
	r := form(s, "/api/ledger/revoke", "", url.Values{"token": {"*:development.after-refill"}})
	if r.Status != http.StatusOK {
		t.Fatalf("/api/ledger/revoke is still limited an hour (ledger clock) after its budget was spent: %d %s (Retry-After %q)",
			r.Status, r.Body, r.Header.Get("Retry-After"))
	}
}
