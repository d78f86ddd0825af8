package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// bearer extracts the credential of the Authorization header; a leading
// "Bearer " (any case) is accepted.
func bearer(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	}
	return h
}

func remoteAddr(r *http.Request) string { return r.RemoteAddr }

func (s *Server) via(r *http.Request, credentialID, credentialType string) events.Via {
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return events.Via{CredentialID: credentialID, CredentialType: credentialType,
		RemoteAddr: remoteAddr(r), UserAgent: ua, RequestID: requestID(r)}
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
	via := s.via(r, tok.ID, tok.Type)
	switch tok.Type {
	case events.TokenAdmin:
		p := authz.AdminToken(tok.ID, tok.Name, via)
		return &p, nil
	case events.TokenPersonal, events.TokenServiceAccount:
		if tok.Owner == nil {
			return nil, newError(http.StatusUnauthorized, "InvalidTokenError", "Token was not valid")
		}
		p, ok := authz.Resolve(s.dir, *tok.Owner, via)
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
	login := strings.TrimSpace(r.Header.Get(s.cfg.AuthProxyHeader))
	if login == "" {
		return nil, false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return nil, false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return nil, false
	}
	trusted := false
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(addr.Unmap()) {
			trusted = true
			break
		}
	}
	if !trusted {
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

// meta builds the command metadata of a request. With an Idempotency-Key
// the command claims the key (namespaced by caller, method and path, so two
// callers' keys never collide) and its id is the key plus a hash of the
// request body: a retry of the same request is recognised and replayed, the
// same key with another body is refused (commands.ErrKeyReused → 422).
func (s *Server) meta(r *http.Request, p *authz.Principal) commands.Meta {
	m := commands.Meta{Actor: p.Actor(), Via: p.Via}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		h := sha256.Sum256([]byte(p.Kind + "\x00" + p.ID + "\x00" + r.Method + "\x00" + r.URL.Path + "\x00" + key))
		m.Key = hex.EncodeToString(h[:16])
		body, _ := r.Context().Value(bodyHashKey{}).(string)
		m.CommandID = "idem-" + m.Key + "-" + body
	}
	return m
}

var idempotentNS = uuid.MustParse("6f1d1e0e-8c3b-4b7a-9a55-7c1d0b5e2a11")

// createMeta is the metadata of a create and the new aggregate's id: with
// an Idempotency-Key the id comes from the command id (key and body), so a
// retry finds the first aggregate; without one it is "" (the handler
// generates a UUIDv7).
func (s *Server) createMeta(r *http.Request, p *authz.Principal) (commands.Meta, string) {
	m := s.meta(r, p)
	if m.Key == "" {
		return m, ""
	}
	return m, uuid.NewSHA1(idempotentNS, []byte(m.CommandID)).String()
}

type bodyHashKey struct{}

// hashBody reads a request's body (up to the size limit, plus one byte so
// decode still sees an oversized body) and records its hash for meta. Only
// requests with an Idempotency-Key pay for it.
func (s *Server) hashBody(r *http.Request) *http.Request {
	if r.Header.Get("Idempotency-Key") == "" || r.Body == nil {
		return r
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	sum := sha256.Sum256(b)
	r = r.WithContext(context.WithValue(r.Context(), bodyHashKey{}, hex.EncodeToString(sum[:8])))
	if err != nil {
		r.Body = io.NopCloser(errReader{err})
		return r
	}
	r.Body = readCloser{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	return r
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type readCloser struct {
	io.Reader
	io.Closer
}

// decode reads a JSON body strictly: JSON content type (415), size limit
// (413), no unknown fields and nothing after the value (400).
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return newError(http.StatusUnsupportedMediaType, "ContentTypeError", "Content-Type must be application/json")
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return newError(http.StatusRequestEntityTooLarge, "ContentTooLargeError",
				fmt.Sprintf("Request body is larger than %d bytes", s.cfg.MaxBodyBytes))
		case errors.Is(err, io.EOF):
			return badRequest("", "request body is empty; send a JSON object")
		case errors.As(err, &syn):
			return badRequest("", fmt.Sprintf("request body is not valid JSON (at byte %d)", syn.Offset))
		case errors.As(err, &typ):
			return badRequest(typ.Field, fmt.Sprintf("%q must be of type %s", typ.Field, typ.Type))
		case errors.As(err, new(*time.ParseError)) || strings.HasPrefix(err.Error(), "Time.UnmarshalJSON"):
			// expiresAt is the only date-time in request bodies.
			return badRequest("expiresAt", `"expiresAt" must be an ISO 8601 date-time, e.g. 2030-01-01T00:00:00Z`)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return badRequest(field, fmt.Sprintf("unknown field %q", field))
		}
		return badRequest("", "request body could not be read as JSON")
	}
	if dec.More() {
		return badRequest("", "request body must hold exactly one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("", "request body must hold exactly one JSON value")
	}
	return nil
}

// retry reports whether a request may be the retry of a deletion: a
// DELETE under an Idempotency-Key. Its lookups then let deleted records
// through, so the command can recognise and replay the first attempt (or
// answer not found for a new command).
func retry(r *http.Request) bool {
	return r.Method == http.MethodDelete && r.Header.Get("Idempotency-Key") != ""
}
