package httpapi_test

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// noSecretIn answers a PAT description holding a live secret 400
// "description must not hold a token's secret", and runs before the
// expiry check. So any user (a Viewer with a PAT) posts a description of
// guesses without an expiresAt: 400 on expiresAt when none is live, 400 on
// description when one is, nothing created either way. Each request tests
// several guesses (64 lookups) and none of them is paid from the address's
// budget of unknown tokens (s.unauth): with a budget of 1, in each of 5
// rounds a description of 5 dead guesses is told from one of 4 dead
// guesses and a live imported secret (no hex run), and the budget is never
// spent. (The mutation limit is off here; on defaults it bounds the
// requests, not the guesses: about 5 per request.)
func TestNameCheckIsNoFreeOracleForGuesses(t *testing.T) {
	s := servicetest.StartWith(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": r10InitSecret},
		func(c *service.Config) { c.UnauthRate, c.UnauthBurst, c.MutationRate = 0.001, 1, 0 })
	viewer := s.CreateUser("oracle", "Viewer").Secret
	const rounds = 5
	differ := 0
	for i := range rounds {
		dead := strings.Join(guesses("dead"+string(rune('a'+i)), 5), " ")
		live := strings.Join(append(guesses("live"+string(rune('a'+i)), 4), r10InitSecret), " ")
		a := s.Do("POST", "/api/admin/user/tokens", viewer, map[string]any{"description": dead})
		b := s.Do("POST", "/api/admin/user/tokens", viewer, map[string]any{"description": live})
		refused := func(r servicetest.Response) bool {
			return strings.Contains(string(r.Body), "must not hold a token's secret")
		}
		if a.Status != b.Status || refused(a) != refused(b) {
			t.Logf("round %d: dead guesses %d %.120s; with a live secret %d %.120s", i, a.Status, a.Body, b.Status, b.Body)
			differ++
		}
	}
	if differ > 0 {
		t.Fatalf("past its budget of unknown tokens, a Viewer's PAT description told a live secret from dead guesses "+
			"%d times in %d rounds (no budget paid): a free oracle", differ, rounds)
	}
}
