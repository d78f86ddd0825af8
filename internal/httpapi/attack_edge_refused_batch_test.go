package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A batch of /edge/validate whose unknown tokens do not fit the address's
// budget is refused with 429 and spends nothing. But the refusal is itself
// an answer: with b tokens left in the bucket (Retry-After tells the
// attacker roughly how many), a batch of floor(b)+1 guesses is refused when
// every guess is unknown and answered 200, with the token, when one of
// them is valid. So an attacker can test a batch of guesses on every
// request, as fast as it can send them, without ever spending the budget:
// the per-address limit on the token oracle (issue 10 item 2) no longer
// bounds the guesses. Every unknown token whose fate an address learns
// must be paid for, a refused batch's included.
func TestEdgeValidateRefusedBatchCannotTestGuessesForFree(t *testing.T) {
	const (
		burst   = 10
		refused = 50 // bounded: batches of guesses refused with 429
	)
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.001, burst })
	secret, _ := s.CreateToken("client", "development")

	post := func(tokens []string) servicetest.Response {
		t.Helper()
		return s.Do("POST", "/edge/validate", "", map[string]any{"tokens": tokens})
	}
	// One unknown token spent: burst-1 left, so a batch of burst guesses
	// does not fit when all of them are unknown, and would fit if one were
	// a valid token. From here on, each round sends a batch of guesses and
	// a single string; an answer that differs from the one the same request
	// would get with a valid token in it tells the address something it did
	// not pay for.
	if r := post(guesses("first", 1)); r.Status != http.StatusOK {
		t.Fatalf("first guess: status %d: %s", r.Status, r.Body)
	}
	leaks := 0
	for i := range refused {
		all := post(guesses(fmt.Sprint("free-", i), burst))
		withValid := post(append(guesses(fmt.Sprint("free-", i), burst-1), secret))
		one := post(guesses(fmt.Sprint("one-", i), 1))
		valid := post([]string{secret})
		if all.Status != withValid.Status {
			leaks++
		}
		if one.Status != valid.Status {
			leaks++
		}
		if all.Status == http.StatusOK || one.Status == http.StatusOK {
			t.Fatalf("round %d: an unknown guess was answered 200 past a budget of %d with a rate of 0.001/s", i, burst)
		}
	}
	if leaks > 0 {
		t.Fatalf("over its budget of %d unknown tokens, the address was answered differently for a request with a valid "+
			"token and for the same request without one %d times: each such answer tests guesses for free", burst, leaks)
	}
}
