package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// noSecretIn answers 400 "must not hold a token's secret" when any word
// of a PAT's description is a live secret (any token's, an admin token's
// included), and it runs before the description's length is checked. So
// a Viewer, through its own PAT route, sends 1,000 guesses as one
// description (64 KiB body) and learns from the answer's message whether
// one of them is a live secret: 400 "must not hold a token's secret"
// versus 400 "must be at most 255 characters". The guesses spend only the
// principal's mutation budget, not the per-address budget of unknown
// tokens that bounds every other token oracle (/edge/validate: 50, then 5
// a second). Answers must not depend on whether a guess is live.
func TestSecretCheckOfANameIsNoUnmeteredTokenOracle(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	viewer := s.CreateUser("guesser", "Viewer")
	guesses := func(withLive bool) string {
		var b strings.Builder
		for i := range 1000 {
			g := fmt.Sprintf("*:*.test-admin-secret-%028d", i)
			if withLive && i == 500 {
				g = servicetest.AdminSecret
			}
			b.WriteString(g + " ")
		}
		return b.String()
	}
	post := func(desc string) servicetest.Response {
		return s.Do("POST", "/api/admin/user/tokens", viewer.Secret,
			map[string]any{"description": desc, "expiresAt": servicetest.FromNow(24 * time.Hour)})
	}
	without, with := post(guesses(false)), post(guesses(true))
	msg := func(r servicetest.Response) string {
		if r.Status >= 300 {
			m, _ := r.JSON(t)["message"].(string)
			return m
		}
		return ""
	}
	if without.Status != with.Status || msg(without) != msg(with) {
		t.Errorf("1,000 guesses in a Viewer's PAT description: answered %d %q without a live secret among them and "+
			"%d %q with the admin token's secret among them: one request tests 1,000 guesses outside the per-address budget",
			without.Status, msg(without), with.Status, msg(with))
	}
}
