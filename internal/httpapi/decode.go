package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	jsonv2 "github.com/go-json-experiment/json"
)

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
	body, err := s.readJSONBody(w, r, nil)
	if err != nil {
		return err
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
