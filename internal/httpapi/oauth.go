package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// The OAuth 2.0 routes let services in any language use the ledger's
// tokens: token introspection (RFC 7662) and token revocation (RFC 7009).
// Both take application/x-www-form-urlencoded bodies, as the RFCs say.

// tokenForm reads the body of an RFC 7662 or RFC 7009 request: form-encoded,
// at most MaxBodyBytes, with exactly one non-empty token parameter.
// token_type_hint is accepted and ignored (the ledger has one kind of
// token, and the RFCs say to search every kind anyway); other parameters
// are ignored as the RFCs allow extensions. Errors never repeat the body.
func (s *Server) tokenForm(w http.ResponseWriter, r *http.Request) (string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", newError(http.StatusUnsupportedMediaType, "ContentTypeError", "Content-Type must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", newError(http.StatusRequestEntityTooLarge, "ContentTooLargeError",
				fmt.Sprintf("Request body is larger than %d bytes", s.cfg.MaxBodyBytes))
		}
		return "", badRequest("", "request body could not be read")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", badRequest("", "the body is not application/x-www-form-urlencoded")
	}
	if len(form["token"]) != 1 || form.Get("token") == "" {
		return "", badRequest("token", `"token" is required, once: the token's secret (invalid_request)`)
	}
	return form.Get("token"), nil
}

// introspection is an RFC 7662 answer. An inactive token is {"active":
// false} and nothing else, so the answer says nothing about why.
type introspection struct {
	Active    bool   `json:"active"`
	TokenType string `json:"token_type,omitempty"`
	Scope     string `json:"scope,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Jti       string `json:"jti,omitempty"`
	// Unleash's scope of the token, as extension fields.
	UnleashTokenType string   `json:"unleash_token_type,omitempty"`
	Environment      string   `json:"environment,omitempty"`
	Projects         []string `json:"projects,omitempty"`
	AllProjects      bool     `json:"all_projects,omitempty"`
	Name             string   `json:"name,omitempty"`
}

// newIntrospection describes an active token.
func newIntrospection(t *tokenset.Token) introspection {
	in := introspection{Active: true, TokenType: "Bearer", Iat: t.CreatedAt.Unix(), Jti: t.ID,
		UnleashTokenType: t.Type, Environment: t.Environment, AllProjects: t.AllProjects, Name: t.Name}
	scope := []string{}
	if t.AllProjects {
		scope = append(scope, "project:*")
	} else {
		in.Projects = t.Projects
		for _, p := range t.Projects {
			scope = append(scope, "project:"+p)
		}
	}
	if t.Environment != "" {
		scope = append(scope, "environment:"+t.Environment)
	}
	in.Scope = strings.Join(scope, " ")
	if !t.ExpiresAt.IsZero() {
		in.Exp = t.ExpiresAt.Unix()
	}
	in.Sub = "token:" + t.ID
	if t.Owner != nil {
		in.Sub = t.Owner.Kind + ":" + t.Owner.ID
	}
	return in
}

// introspect answers RFC 7662 token introspection from memory: the caller
// authenticates with its own credential (a user's PAT, a service
// account's token or an admin token, as on every ledger route; client and
// frontend tokens are refused), and learns whether the token it sends is
// active now and its scope. The answer may not be cached (no-store): a
// revocation applies at once.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request, _ *authz.Principal, addr string) error {
	secret, err := s.tokenForm(w, r)
	if err != nil {
		return err
	}
	out := introspection{}
	t, st := s.verify(secret)
	if err := s.payUnknown(w, addr, st == tokenset.Unknown); err != nil {
		return err
	}
	if st == tokenset.Valid {
		out = newIntrospection(&t)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleIntrospect authenticates like every ledger route, but an
// introspection changes nothing, so it does not spend the caller's
// mutation budget. It is a token oracle like /edge/validate, so it spends
// the same per-address budget: a failed authentication of the caller and
// every unknown token introspected cost one of the address's tokens, an
// address without one gets 429 before anything is looked at, and an
// unknown token that does not fit the budget is not answered. The budget
// reads the ledger's clock, as every HTTP budget does.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	addr := s.clientKey(r)
	if wait := s.unauth.blocked(addr, s.cmd.Now()); wait > 0 {
		s.writeError(w, r, tooManyRequests(w, wait, "Too many failed authentications or unknown tokens from this address; retry after the time in Retry-After"))
		return
	}
	guessable := bearer(r) != ""
	p, err := s.authenticate(r)
	if err != nil {
		var ae *apiError
		if guessable && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			s.unauth.charge(addr, 1, s.cmd.Now())
		}
		s.writeError(w, r, err)
		return
	}
	if err := s.introspect(w, r, p, addr); err != nil {
		s.writeError(w, r, err)
	}
}

// payUnknown spends one of addr's budget tokens for a token the ledger
// does not know (unknown), at the time of the answer, and reports the 429
// to send when the budget has none left (nil: answer). An address below
// one token is refused for a known token too, so that the answer never
// tells it for free whether a string is a token.
func (s *Server) payUnknown(w http.ResponseWriter, addr string, unknown bool) error {
	n := 0
	if unknown {
		n = 1
	}
	if wait, ok := s.unauth.takeN(addr, n, s.cmd.Now()); !ok {
		return tooManyRequests(w, wait, "Too many unknown tokens from this address; retry after the time in Retry-After")
	}
	return nil
}

// handleRevoke is RFC 7009 token revocation: whoever holds a token may
// revoke it, and the secret in the body is the proof (no other credential
// is needed, as for an RFC 7009 public client). The revocation is recorded
// with the holder as actor: the token's owner for a personal or
// service-account token, the admin token itself, or the token's holder
// (events.ActorTokenHolder) for a client or backend token. A frontend token
// proves nothing: it is public by design (Unleash's frontend SDKs ship it
// to every browser), so its holder may not revoke it here; the answer is
// RFC 7009 §2.2.1's unsupported_token_type (400), and an admin revokes it
// through the admin API. The answer is 200 whether or not the token was
// valid, as the RFC says; an unknown token spends one of the client
// address's rate-limit tokens, as at /edge/validate, and is answered 429
// when none is left.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if err := s.revokeHeld(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

func (s *Server) revokeHeld(w http.ResponseWriter, r *http.Request) error {
	addr := s.clientKey(r)
	if wait := s.unauth.blocked(addr, s.cmd.Now()); wait > 0 {
		return tooManyRequests(w, wait, "Too many unknown tokens from this address; retry after the time in Retry-After")
	}
	secret, err := s.tokenForm(w, r)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	t, st := s.verify(secret)
	if err := s.payUnknown(w, addr, st == tokenset.Unknown); err != nil {
		return err
	}
	if st != tokenset.Valid {
		w.WriteHeader(http.StatusOK) // nothing to revoke: the RFC answers 200
		return nil
	}
	if t.Type == events.TokenFrontend {
		return newError(http.StatusBadRequest, "UnsupportedTokenTypeError",
			"a frontend token is public, so holding it proves nothing: an admin revokes it with DELETE /api/admin/api-tokens/{id} (unsupported_token_type)")
	}
	m, ok := s.holderMeta(r, &t)
	if !ok {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	res, err := s.cmd.RevokeToken(r.Context(), m, commands.RevokeToken{TokenID: t.ID, Reason: events.ReasonDeleted})
	if errors.Is(err, commands.ErrGone) {
		w.WriteHeader(http.StatusOK) // revoked meanwhile
		return nil
	}
	return s.written(w, r, res, err)
}

// holderMeta is the command metadata of a token's holder acting with it.
func (s *Server) holderMeta(r *http.Request, t *tokenset.Token) (commands.Meta, bool) {
	via := s.via(r, t.ID, t.Type)
	switch t.Type {
	case events.TokenAdmin:
		p := authz.AdminToken(t.ID, t.Name, via)
		return commands.Meta{Actor: p.Actor(), Via: via}, true
	case events.TokenPersonal, events.TokenServiceAccount:
		if t.Owner == nil {
			return commands.Meta{}, false
		}
		p, ok := authz.Resolve(s.dir, *t.Owner, via)
		if !ok {
			return commands.Meta{}, false
		}
		return commands.Meta{Actor: p.Actor(), Via: via}, true
	}
	return commands.Meta{Actor: events.Actor{Kind: events.ActorTokenHolder, ID: t.ID, Name: t.Name}, Via: via}, true
}
