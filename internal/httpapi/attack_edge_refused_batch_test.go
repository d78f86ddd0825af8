package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
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
	// does not fit when all of them are unknown, and fits when one is not.
	if r := post(guesses("first", 1)); r.Status != http.StatusOK {
		t.Fatalf("first guess: status %d: %s", r.Status, r.Body)
	}
	learned := 1 // unknown tokens the address learned are unknown
	for i := range refused {
		r := post(guesses(fmt.Sprint("free-", i), burst))
		if r.Status != http.StatusTooManyRequests {
			break
		}
		// 429 here means "every one of these burst guesses is unknown"
		// (one valid token among them would have made the batch fit).
		learned += burst
	}
	// The proof that the 429s said "all unknown": the same batch with one
	// valid token among burst-1 guesses is answered, token included.
	batch := append(guesses("last", burst-1), secret)
	r := post(batch)
	found := r.Status == http.StatusOK && strings.Contains(string(r.Body), secret)
	if found {
		learned += burst - 1
	}
	if learned > burst {
		t.Fatalf("with a budget of %d unknown tokens the address learned that %d guesses were unknown "+
			"(%d refused batches cost nothing) and then found the valid token (status %d)", burst, learned, refused, r.Status)
	}
}
