package httpapi

import (
	"net/http"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// getLedgerToken: one token with everything an auditor needs, by its id,
// for whoever may see it: an Admin; its owner; a holder of the read
// permission of its type (client, backend, frontend tokens); a holder of
// the project read permission in one of its projects. So the Location of
// every token create answers its creator. Others get the same 404 as for
// an unknown id.
func (s *Server) getLedgerToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	t, ok := s.tokens.ByID(r.PathValue("id"))
	if !ok || !canSeeToken(p, t) {
		return notFound("Could not find a token with that id")
	}
	writeJSON(w, http.StatusOK, toLedgerToken(t, s.cmd.Now()))
	return nil
}

// lookupBody carries a secret in the body, never in the path or query, so
// it stays out of access logs and proxies' URLs.
type lookupBody struct {
	Secret string `json:"secret"`
}

// lookupToken says what a secret is: valid, revoked, expired or unknown,
// and which token it belongs to. The secret itself is never repeated.
func (s *Server) lookupToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var b lookupBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	if b.Secret == "" {
		return badRequest("secret", `"secret" is required`)
	}
	now := s.cmd.Now()
	t, status := s.tokens.VerifyAt(b.Secret, now)
	out := struct {
		Status string       `json:"status"`
		Token  *ledgerToken `json:"token,omitempty"`
	}{Status: status.String()}
	if t != nil {
		lt := toLedgerToken(*t, now)
		out.Token = &lt
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// canSeeToken reports whether p may read t's record.
func canSeeToken(p *authz.Principal, t tokenset.Token) bool {
	switch {
	case p.IsAdmin():
		return true
	case t.Owner != nil:
		return *t.Owner == p.Owner()
	case t.Type == events.TokenAdmin:
		return false
	case authz.CanOnToken(p, authz.Read, t.Type) == nil:
		return true
	}
	for _, pr := range t.Projects {
		if authz.CanInProject(p, pr, authz.ReadProjectToken) == nil {
			return true
		}
	}
	return false
}
