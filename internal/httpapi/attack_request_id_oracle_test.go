package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The answer echoes the request's id in X-Request-Id. The client's own id
// is kept unless it "holds a secret": newRequestID replaces an id the
// token set holds with a random one. So any anonymous client learns
// whether a string is a live secret from the header of any answer (here
// an unauthenticated GET of the OpenAPI document): its own id back means
// no, another id means yes. Imported tokens (INIT_*_API_TOKENS, any
// letters, digits, '.', ':' and '-') fit the id's alphabet. No guess spends
// the per-address budget of unknown tokens: with a burst of 5 and a rate
// of 0.001/s, 200 guesses are all answered.
func TestRequestIDEchoIsNoAnonymousTokenOracle(t *testing.T) {
	s := servicetest.StartWith(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": initBackendSecret},
		func(c *service.Config) { c.UnauthRate, c.UnauthBurst = 0.001, 5 })
	echo := func(id string) (int, string) {
		r := s.Do("GET", "/openapi.json", "", nil, "X-Request-Id", id)
		return r.Status, r.Header.Get("X-Request-Id")
	}
	const guesses = 200 // bounded
	answered := 0
	for i := range guesses {
		st, _ := echo(fmt.Sprintf("default:development.Zq7kRw2mXp9LtVbN4cYh8JsGd3FfQa%08d", i))
		if st == http.StatusOK {
			answered++
		}
	}
	_, wrong := echo("default:development.Zq7kRw2mXp9LtVbN4cYh8JsGd3FfQa6UeTn5Wx")
	_, live := echo(initBackendSecret)
	wrongKept := wrong == "default:development.Zq7kRw2mXp9LtVbN4cYh8JsGd3FfQa6UeTn5Wx"
	liveKept := live == initBackendSecret
	if wrongKept != liveKept {
		t.Errorf("an anonymous X-Request-Id is echoed as sent for a wrong guess (%v) and replaced for a live secret (%v): "+
			"a token oracle; %d of %d guesses answered past a budget of 5", wrongKept, liveKept, answered, guesses)
	}
}
