package httpapi

import (
	"net/http"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// edgeToken is Unleash's edgeTokenSchema (closed).
type edgeToken struct {
	Token       string   `json:"token"`
	Type        string   `json:"type"`
	Projects    []string `json:"projects"`
	Environment string   `json:"environment"`
}

// maxEdgeTokens bounds one validation request.
const maxEdgeTokens = 1000

// handleEdgeValidate answers Unleash Edge: for every valid, unexpired,
// unrevoked client, backend, frontend or admin token among the inputs, its
// scope; everything else is left out, as Unleash does. Like Unleash, the
// route needs no credential, so it is a token oracle: every token it does
// not find spends one of the client address's rate-limit tokens, and an
// address that has none left gets 429 before any token is looked at.
func (s *Server) handleEdgeValidate(w http.ResponseWriter, r *http.Request) {
	addr := s.clientKey(r)
	now := s.cmd.Now() // one clock read for the request's checks
	if wait := s.unauth.blocked(addr, now); wait > 0 {
		s.writeError(w, r, tooManyRequests(w, wait, "Too many unknown tokens from this address; retry after the time in Retry-After"))
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	body, err := s.readJSONBody(w, r, *buf)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	*buf = body[:0]     // keep what the body grew to
	var named [4]string // most requests name one token or a few
	tokens, err := edgeTokens(body, named[:0])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(tokens) > maxEdgeTokens {
		s.writeError(w, r, badRequest("tokens", "at most 1000 tokens per request"))
		return
	}
	var found [4]edgeToken // most requests name one token or a few
	out := found[:0]
	misses := 0
	for _, secret := range tokens {
		t, st := s.verifyAt(secret, now)
		if st == tokenset.Unknown {
			misses++
		}
		if st != tokenset.Valid || commands.IsAccountToken(t.Type) {
			continue
		}
		out = append(out, edgeToken{Token: secret, Type: t.Type, Projects: edgeScope(t.Projects, t.AllProjects), Environment: t.Environment})
	}
	// Every unknown token of the batch is paid for, atomically and at the
	// time of the answer: a batch that does not fit the address's budget is
	// answered with nothing, so neither batching, concurrency nor a slow
	// request buys more guesses than the budget.
	if misses > 0 {
		now = s.cmd.Now()
	}
	if wait, ok := s.unauth.takeN(addr, misses, now); !ok {
		s.writeError(w, r, tooManyRequests(w, wait, "Too many unknown tokens from this address; retry after the time in Retry-After"))
		return
	}
	answer := appendEdgeAnswer((*buf)[:0], out)
	*buf = answer[:0]
	w.Header()["Content-Type"] = jsonContentTypeValue
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(answer)
}
