package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
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
	return events.Via{CredentialID: credentialID, CredentialType: credentialType,
		RemoteAddr: remoteAddr(r), UserAgent: auditText(r.UserAgent(), 256), RequestID: requestID(r)}
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

// decode reads a JSON object body strictly into v (a pointer to a struct):
// JSON content type (415), size limit (413), and then, all as 400 naming at
// most a field the route knows: no syntax error, exactly one value, no
// unknown members, member names matched case-sensitively (a case variant
// is an unknown member), no duplicate names, no null anywhere (leave a
// member out instead), and every date-time within what the ledger can
// store. No message repeats an input value or an unknown member name: either
// could be a secret pasted into the wrong place.
//
// nullable names the members for which null is a value of its own (e.g. a
// service-account token's expiresAt: null for "never").
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any, nullable ...string) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return newError(http.StatusUnsupportedMediaType, "ContentTypeError", "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newError(http.StatusRequestEntityTooLarge, "ContentTooLargeError",
				fmt.Sprintf("Request body is larger than %d bytes", s.cfg.MaxBodyBytes))
		}
		return badRequest("", "request body could not be read")
	}
	return decodeBody(body, v, nullable...)
}

// decodeBody is decode's content check, without the transport: the unit
// the fuzz target drives. Every error it returns is an *apiError with status
// 400.
func decodeBody(body []byte, v any, nullable ...string) error {
	known := fieldNames(v)
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("", "request body is empty; send a JSON object")
	}
	if err := jsonv2.Unmarshal(body, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return decodeError(err, known)
	}
	if err := rejectNulls(body, known, nullable); err != nil {
		return err
	}
	return checkTimes(reflect.ValueOf(v))
}

// decodeError turns a json v2 error into a 400 that names at most a known
// field.
func decodeError(err error, known []string) *apiError {
	var sem *jsonv2.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &sem) && errors.Is(sem.Err, jsonv2.ErrUnknownName):
		name := sem.JSONPointer.LastToken()
		for _, k := range known {
			if strings.EqualFold(k, name) {
				return badRequest(k, fmt.Sprintf("member names are case-sensitive: use %q", k))
			}
		}
		return badRequest("", "the body has a member this route does not accept; it accepts "+quoteAll(known))
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		field := knownField(syn.JSONPointer, known)
		if field == "" {
			return badRequest("", "the body has a duplicate member name")
		}
		return badRequest(field, fmt.Sprintf("%q appears more than once", field))
	case errors.As(err, &syn):
		return badRequest("", fmt.Sprintf("request body is not valid JSON or does not hold exactly one JSON value (error at byte %d)", syn.ByteOffset))
	case errors.As(err, &sem):
		field := knownField(sem.JSONPointer, known)
		if field == "" {
			return badRequest("", "request body must be a JSON object with the route's members; it accepts "+quoteAll(known))
		}
		return badRequest(field, typeMessage(field, sem.GoType))
	}
	return badRequest("", "request body could not be read as JSON")
}

// rejectNulls refuses null anywhere in the body: a member that may be
// absent is left out, never sent as null (null once meant "all projects").
func rejectNulls(body []byte, known, nullable []string) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil // Unmarshal already accepted the body: this is its end
		}
		if tok.Kind() == 'n' {
			p := dec.StackPointer()
			field := knownField(p, known)
			if field != "" && p == jsontext.Pointer("/"+field) && slices.Contains(nullable, field) {
				continue // null as the member's own value, where it means something
			}
			if field == "" {
				return badRequest("", "null is not accepted; leave the member out instead")
			}
			return badRequest(field, fmt.Sprintf("%q must not be null; leave it out instead", field))
		}
	}
}

// minTime and maxTime bound the date-times the ledger stores: RFC 3339
// (and the events' JSON) has four-digit years, in UTC.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// storableTime reports whether t can be stored and encoded by the ledger.
func storableTime(t time.Time) bool {
	return !t.Before(minTime) && !t.After(maxTime)
}

var timeType = reflect.TypeFor[time.Time]()

// checkTimes refuses a date-time field of the decoded struct the ledger
// cannot store (e.g. 9999-12-31T23:59:59-23:59, year 10000 in UTC).
func checkTimes(v reflect.Value) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		fv := v.Field(i)
		if !f.IsExported() {
			continue
		}
		for fv.Kind() == reflect.Pointer && !fv.IsNil() && fv.Type().Elem() == timeType {
			fv = fv.Elem()
		}
		if fv.Type() != timeType {
			continue
		}
		if tm := fv.Interface().(time.Time); !tm.IsZero() && !storableTime(tm) {
			name := jsonName(f)
			return badRequest(name, fmt.Sprintf("%q must be an ISO 8601 date-time between the years 0001 and 9999 in UTC", name))
		}
	}
	return nil
}

// fieldNames lists the JSON member names of the struct v points to.
func fieldNames(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() {
			if n := jsonName(f); n != "-" {
				out = append(out, n)
			}
		}
	}
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// knownField is the top-level member a JSON pointer is in, if the route
// knows that name; "" otherwise.
func knownField(p jsontext.Pointer, known []string) string {
	for tok := range p.Tokens() {
		if slices.Contains(known, tok) {
			return tok
		}
		return ""
	}
	return ""
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// typeMessage says which JSON a field takes, for a value of another type.
func typeMessage(field string, t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	what := "another type"
	switch {
	case t == nil:
	case t == timeType:
		return fmt.Sprintf("%q must be an ISO 8601 date-time, e.g. 2030-01-01T00:00:00Z", field)
	case t.Kind() == reflect.String:
		what = "string"
	case t.Kind() == reflect.Bool:
		what = "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		what = "number"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		what = "array of strings"
	case t.Kind() == reflect.Slice:
		what = "array"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		what = "object"
	}
	return fmt.Sprintf("%q must be of type %s", field, what)
}

// retry reports whether a request may be the retry of a deletion: a
// DELETE under an Idempotency-Key. Its lookups then let deleted records
// through, so the command can recognise and replay the first attempt (or
// answer not found for a new command).
func retry(r *http.Request) bool {
	return r.Method == http.MethodDelete && r.Header.Get("Idempotency-Key") != ""
}
