package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// authed authenticates a request, then applies, in order: the per-address
// limit of failed bearer authentications (checked before the credential is
// looked at, so an address out of tokens learns nothing), the CSRF content-type
// rule for the auth-proxy header, the per-principal limit of mutations and
// the X-Ledger-Min-Sequence wait (only for an authenticated caller).
// admin is authed for the routes only an Admin may use: the route table
// says so once, and the handler needs no check of its own.
func (s *Server) admin(h handlerFunc) http.HandlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
		if err := requireAdmin(p); err != nil {
			return err
		}
		return h(w, r, p)
	})
}

func (s *Server) authed(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.authedPrelude(w, r, h); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) authedPrelude(w http.ResponseWriter, r *http.Request, h handlerFunc) error {
	now := s.cmd.Now() // the ledger's one clock, also for the budgets
	addr := s.clientKey(r)
	// Only a presented credential can be guessed. Sign-ins through the
	// auth proxy are never limited here: they would otherwise share the
	// proxy's address with everyone's failures.
	guessable := bearer(r) != ""
	if guessable {
		if wait := s.unauth.blocked(addr, now); wait > 0 {
			return tooManyRequests(w, wait, "Too many failed authentications from this address; retry after the time in Retry-After")
		}
	}
	p, err := s.authenticate(r)
	if err != nil {
		var ae *apiError
		if guessable && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			s.unauth.charge(addr, 1, s.cmd.Now())
		}
		return err
	}
	mutation := !safeMethod(r.Method)
	if mutation && p.Via.CredentialType == "auth-proxy" && !jsonContentType(r) {
		// The auth-proxy header rides on the browser's single-sign-on
		// session, so it is the one credential a cross-site page can make a
		// browser send. A page cannot send application/json cross-site
		// without a CORS preflight, which this server never grants.
		return newError(http.StatusUnsupportedMediaType, "ContentTypeError",
			"Content-Type must be application/json on every change made through the single-sign-on proxy, a body-less one included")
	}
	if mutation {
		if r, err = s.withReason(r); err != nil {
			return err
		}
		if wait, ok := s.writes.take(p.Kind+"\x00"+p.ID, now); !ok {
			return tooManyRequests(w, wait, "Too many changes by this principal; retry after the time in Retry-After")
		}
		r = s.markReplay(r, p)
	}
	if v := r.Header.Get("X-Ledger-Min-Sequence"); v != "" {
		// Read-your-writes across requests (and, with several replicas,
		// across nodes): wait until the projections applied the sequence a
		// write answered with. Only an authenticated caller may make the
		// server wait.
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return badRequest("X-Ledger-Min-Sequence", "X-Ledger-Min-Sequence must be a stream sequence (a non-negative integer)")
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteWait)
		err = s.runner.WaitFor(ctx, seq)
		cancel()
		if err != nil {
			w.Header().Set("Retry-After", "1")
			return newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
				"the projections have not reached X-Ledger-Min-Sequence yet; retry")
		}
	}
	return h(w, r, p)
}

// bearer extracts the credential of the Authorization header; a leading
// "Bearer " (any case) is accepted.
func bearer(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	}
	return h
}

// remoteAddr is the request's origin for the audit record: the client
// the rate limits charge (see clientAddr). That is the connection's
// address and port, unless the connection comes from a trusted proxy
// that named the client in X-Forwarded-For: then the client's address
// alone (its port is known to the proxy only).
func (s *Server) remoteAddr(r *http.Request) string {
	a, ok := s.clientAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ap.Addr().Unmap().WithZone("") == a {
		return r.RemoteAddr
	}
	return a.String()
}

func (s *Server) via(r *http.Request, credentialID, credentialType string) events.Via {
	return events.Via{CredentialID: credentialID, CredentialType: credentialType,
		RemoteAddr: s.remoteAddr(r), UserAgent: s.clientText(r.UserAgent(), 256), RequestID: requestID(r)}
}

// auditText makes a client-chosen header fit for the audit record: valid
// UTF-8 only, no control or format characters (bidi overrides, zero-width
// and invisible characters would make a record read other than it is),
// and at most max bytes, cut at a character boundary.
func auditText(v string, max int) string {
	var b strings.Builder
	for _, c := range v {
		if c == utf8.RuneError || unicode.IsControl(c) || unicode.Is(unicode.Cf, c) ||
			c == '\u2028' || c == '\u2029' {
			continue
		}
		if b.Len()+utf8.RuneLen(c) > max {
			break
		}
		b.WriteRune(c)
	}
	return b.String()
}

// authenticate turns the request's credential into a principal with the
// permissions it holds now. Client, backend and frontend tokens are refused
// on these routes (403); missing or invalid credentials get 401.
func (s *Server) authenticate(r *http.Request) (*authz.Principal, error) {
	secret := bearer(r)
	if secret == "" {
		if p, ok := s.authProxy(r); ok {
			return p, nil
		}
		return nil, unauthorized("You must log in to use tokenledger: send a token in the Authorization header")
	}
	tok, st := s.verify(secret)
	if st != tokenset.Valid {
		return nil, newError(http.StatusUnauthorized, "InvalidTokenError", "Token was not valid")
	}
	// The credential's via (its User-Agent scrubbed of secrets, up to
	// ~0.5 ms for a long one) is built only for the types these routes
	// take: a frontend token is public, and its 403 is not charged to
	// --unauth-rate (atk-r15).
	switch tok.Type {
	case events.TokenAdmin:
		p := authz.AdminToken(tok.ID, tok.Name, s.via(r, tok.ID, tok.Type))
		return &p, nil
	case events.TokenPersonal, events.TokenServiceAccount:
		if tok.Owner == nil {
			return nil, newError(http.StatusUnauthorized, "InvalidTokenError", "Token was not valid")
		}
		p, ok := authz.Resolve(s.dir, *tok.Owner, s.via(r, tok.ID, tok.Type))
		if !ok {
			return nil, newError(http.StatusUnauthorized, "InvalidTokenError", "Token was not valid: its owner no longer exists")
		}
		return &p, nil
	default:
		return nil, forbidden("invalid token: expected a different token type for this endpoint (client and frontend tokens cannot call the admin API)")
	}
}

// authProxy accepts the single-sign-on header from a configured proxy
// address only.
func (s *Server) authProxy(r *http.Request) (*authz.Principal, bool) {
	if s.cfg.AuthProxyHeader == "" {
		return nil, false
	}
	values := r.Header.Values(s.cfg.AuthProxyHeader)
	if len(values) != 1 || strings.Contains(values[0], ",") {
		// Sent twice (or as a list), the header names nobody: a proxy that
		// appends its value instead of replacing the client's would let the
		// client choose whom the first value names.
		return nil, false
	}
	login := strings.TrimSpace(values[0])
	if login == "" {
		return nil, false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return nil, false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !s.trustedProxy(addr.Unmap().WithZone("")) {
		return nil, false
	}
	u, ok := s.dir.UserByLogin(login)
	if !ok || u.Deleted {
		return nil, false
	}
	p, ok := authz.Resolve(s.dir, events.Owner{Kind: events.ActorUser, ID: u.ID}, s.via(r, "", "auth-proxy"))
	if !ok {
		return nil, false
	}
	return &p, true
}
