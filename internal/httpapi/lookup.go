package httpapi

import (
	"net/http"

	"github.com/tokenledger/tokenledger/internal/authz"
)

// getLedgerToken: one token with everything an auditor needs, by its id.
func (s *Server) getLedgerToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := requireAdmin(p); err != nil {
		return err
	}
	t, ok := s.tokens.ByID(r.PathValue("id"))
	if !ok {
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
	if err := requireAdmin(p); err != nil {
		return err
	}
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
