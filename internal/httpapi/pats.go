package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// pat is Unleash's patSchema. ID is the stream sequence of the token's
// creation event: unique, increasing, an integer as Unleash's clients expect.
type pat struct {
	ID          uint64     `json:"id"`
	Description string     `json:"description"`
	ExpiresAt   *time.Time `json:"expiresAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	SeenAt      *time.Time `json:"seenAt"`
	UserID      uint64     `json:"userId,omitempty"`
	Secret      string     `json:"secret,omitempty"`
}

func toPAT(t tokenset.Token, ownerIntID uint64) pat {
	out := pat{ID: t.CreatedSeq, Description: t.Name, CreatedAt: t.CreatedAt.UTC(), UserID: ownerIntID}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt.UTC()
		out.ExpiresAt = &e
	}
	return out
}

// liveTokensOf lists the not-revoked tokens owned by a principal.
func (s *Server) liveTokensOf(owner events.Owner) []tokenset.Token {
	var out []tokenset.Token
	for _, t := range s.tokens.ByOwner(owner.Kind, owner.ID) {
		if !t.Revoked {
			out = append(out, t)
		}
	}
	return out
}

func requireUser(p *authz.Principal) error {
	if p.Kind != events.ActorUser {
		return newError(http.StatusForbidden, "ForbiddenError", "PATs require an authenticated user.")
	}
	return nil
}

func (s *Server) listPATs(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := requireUser(p); err != nil {
		return err
	}
	s.writePATs(w, p.Owner(), p.IntID)
	return nil
}

// writePATs answers {"pats": [...]}: the live tokens of owner, whose
// integer id is ownerIntID.
func (s *Server) writePATs(w http.ResponseWriter, owner events.Owner, ownerIntID uint64) {
	out := struct {
		Pats []pat `json:"pats"`
	}{Pats: []pat{}}
	for _, t := range s.liveTokensOf(owner) {
		out.Pats = append(out.Pats, toPAT(t, ownerIntID))
	}
	writeJSON(w, http.StatusOK, out)
}

type createPATBody struct {
	Description string     `json:"description"`
	ExpiresAt   *time.Time `json:"expiresAt"`
}

func (s *Server) createPAT(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := requireUser(p); err != nil {
		return err
	}
	var b createPATBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	return s.issueAccountToken(w, r, p, p.Owner(), p.IntID, b, false)
}

// issueAccountToken creates a personal or service-account token. The
// shape checks are Unleash's (description required, expiry required for
// PATs and in the future); the rules (unique description per owner, at most
// MaxAccountTokens live tokens, a first PAT on a user's behalf) are the
// command's.
func (s *Server) issueAccountToken(w http.ResponseWriter, r *http.Request, p *authz.Principal, owner events.Owner, ownerIntID uint64, b createPATBody, onBehalf bool) error {
	typ, path := events.TokenPersonal, events.PathPAT
	if owner.Kind == events.ActorServiceAccount {
		typ, path = events.TokenServiceAccount, events.PathServiceAccount
	}
	if b.Description == "" {
		return badRequest("description", "PAT description cannot be empty.")
	}
	if err := s.noSecretIn("description", b.Description); err != nil {
		return err
	}
	if b.ExpiresAt == nil && typ == events.TokenPersonal {
		return badRequest("expiresAt", `"expiresAt" is required (an ISO 8601 date-time in the future)`)
	}
	if b.ExpiresAt != nil && !b.ExpiresAt.After(s.cmd.Now()) {
		return badRequest("expiresAt", "The expiry date should be in future.")
	}
	m, tokenID := s.createMeta(r, p)
	created, err := s.cmd.CreateToken(r.Context(), m, commands.CreateToken{TokenID: tokenID, Type: typ,
		Name: b.Description, Owner: &owner, ExpiresAt: b.ExpiresAt, Path: path, OnBehalfOf: onBehalf})
	if err != nil {
		return err
	}
	s.afterWrite(w, r, created.Result)
	out := toPAT(s.createdToken(created), ownerIntID)
	status := http.StatusCreated
	if created.Replayed {
		status = http.StatusOK
	} else {
		out.Secret = created.Secret.Reveal()
	}
	w.Header().Set("Location", "/api/ledger/tokens/"+created.TokenID) // the record its owner (and an Admin) may read
	writeJSON(w, status, out)
	return nil
}

func (s *Server) deletePAT(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := requireUser(p); err != nil {
		return err
	}
	n, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		return badRequest("id", "the PAT id must be a positive integer")
	}
	t, ok := s.tokens.ByCreatedSeq(n)
	if !ok || (t.Revoked && !retry(r)) || t.Owner == nil || *t.Owner != p.Owner() {
		w.WriteHeader(http.StatusOK) // Unleash: always 200 for the caller's own route
		return nil
	}
	return s.revoke(w, r, p, t.ID)
}

// createPATOnBehalf lets an Admin issue a user's first PAT (as GitLab
// allows); the event records the admin as actor and OnBehalfOf.
func (s *Server) createPATOnBehalf(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if !p.IsAdmin() {
		return forbidden("You need the ADMIN permission to issue a token for another user")
	}
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	owner := events.Owner{Kind: events.ActorUser, ID: u.ID}
	var b createPATBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	// Only a user's first PAT, ever (the command's rule, see
	// commands.ErrNotFirstToken).
	return s.issueAccountToken(w, r, p, owner, u.IntID, b, true)
}

// accountTokenFromPath is the live token {tokenId} (a creation sequence)
// of owner, or a 404 error.
func (s *Server) accountTokenFromPath(r *http.Request, owner events.Owner) (tokenset.Token, error) {
	n, err := pathUint(r, "tokenId")
	if err != nil {
		return tokenset.Token{}, err
	}
	t, ok := s.tokens.ByCreatedSeq(n)
	if !ok || (t.Revoked && !retry(r)) || t.Owner == nil || *t.Owner != owner {
		return tokenset.Token{}, notFound(fmt.Sprintf("Could not find token %d of this owner", n))
	}
	return t, nil
}

// changeAccountTokenExpiry sets the expiry of a personal or service-account
// token (Unleash has no route for it; an admin rotating credentials needs
// one). Personal tokens keep an expiry; a past one stops the token at once.
func (s *Server) changeAccountTokenExpiry(w http.ResponseWriter, r *http.Request, p *authz.Principal, owner events.Owner) error {
	t, err := s.accountTokenFromPath(r, owner)
	if err != nil {
		return err
	}
	var b updateExpiryBody
	if err := s.decode(w, r, &b, "expiresAt"); err != nil {
		return err
	}
	if b.ExpiresAt == nil && t.Type == events.TokenPersonal {
		return badRequest("expiresAt", `"expiresAt" is required for personal access tokens`)
	}
	res, err := s.cmd.ChangeExpiry(r.Context(), s.meta(r, p), commands.ChangeExpiry{TokenID: t.ID, ExpiresAt: b.ExpiresAt})
	return s.written(w, r, res, err)
}

// The PATs of any user, for an Admin (ledger-native; Unleash lets only the
// owner manage PATs, and an admin token has no user):
// GET /api/admin/user-admin/{id}/tokens, PUT and DELETE …/tokens/{tokenId}.
func (s *Server) listUserPATs(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	s.writePATs(w, events.Owner{Kind: events.ActorUser, ID: u.ID}, u.IntID)
	return nil
}

func (s *Server) updateUserPAT(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	return s.changeAccountTokenExpiry(w, r, p, events.Owner{Kind: events.ActorUser, ID: u.ID})
}

func (s *Server) deleteUserPAT(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.userFromPath(r)
	if err != nil {
		return err
	}
	t, err := s.accountTokenFromPath(r, events.Owner{Kind: events.ActorUser, ID: u.ID})
	if err != nil {
		return err
	}
	return s.revoke(w, r, p, t.ID)
}
